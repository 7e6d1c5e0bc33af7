//! [`from_slice`]: a typed parse that is also the strict check, in one pass over the bytes.
//!
//! The reader's rules ([`check`](super::check)) and the generated types' own rules were two
//! passes: a walk of the whole envelope, then `serde_json`'s typed parse of the same bytes.
//! Here the typed parse runs through [`Strict`], a deserializer that hands every value on
//! unchanged while it counts the nesting and remembers each object's member names, so a
//! duplicate name or a value nested too deep fails the parse. What it accepts is what
//! `check` then `serde_json::from_slice` accept; on any failure the two run as before, so
//! every error (its code, its reason) is the one they give.
//!
//! ```
//! use natsbridge::json::{Refused, from_slice};
//! let v: std::collections::BTreeMap<String, u8> = from_slice(br#"{"a":1}"#).unwrap();
//! assert_eq!(v["a"], 1);
//! let twice = from_slice::<serde_json::Value>(br#"{"a":1,"a":2}"#).unwrap_err();
//! assert!(matches!(twice, Refused::NotStrict(why) if why.contains("duplicate key `a`")));
//! let typed = from_slice::<Vec<u8>>(br#"{"a":1}"#).unwrap_err();
//! assert!(matches!(typed, Refused::Typed(_)));
//! ```

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use natsbridge_types::profile::JSON_MAX_DEPTH;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Why [`from_slice`] refused the bytes.
#[derive(Debug)]
pub enum Refused {
    /// Not strict JSON: the reason [`check`](super::check) gives.
    NotStrict(String),
    /// Strict JSON, but not a `T`: `serde_json::from_slice`'s error.
    Typed(serde_json::Error),
}

/// Parses `bytes` as a `T` if they are strict JSON (as [`check`](super::check) has it) and
/// a valid `T` (as `serde_json::from_slice` has it), in one pass.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Refused> {
    let names = RefCell::new(Names { open: Vec::with_capacity(FEW), many: Vec::new() });
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let at = At { depth: 1, names: &names };
    let parsed = T::deserialize(Strict { de: &mut de, at }).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(value) => Ok(value),
        // Refused: the two passes as before, so that the reason is theirs (a typed error
        // before a duplicate name is still "not strict JSON"; the typed error's position and
        // words are serde_json's own).
        Err(_) => {
            super::check(bytes).map_err(Refused::NotStrict)?;
            serde_json::from_slice(bytes).map_err(Refused::Typed)
        }
    }
}

/// Where a value is: its depth (the outermost value is 1), and the member names of the
/// objects open around it.
#[derive(Clone, Copy)]
struct At<'a, 'de> {
    depth: usize,
    names: &'a RefCell<Names<'de>>,
}

impl<'a, 'de> At<'a, 'de> {
    /// The level inside an object or array here.
    fn enter<E: de::Error>(self) -> Result<At<'a, 'de>, E> {
        if self.depth > JSON_MAX_DEPTH {
            return Err(E::custom(format_args!("nested deeper than {JSON_MAX_DEPTH} levels")));
        }
        Ok(At { depth: self.depth + 1, ..self })
    }
}

/// The member names of every object open in the parse, innermost last: objects nest, so
/// one list serves them all (each object's names start where it began). An object with
/// many names moves them to a set (100 000 keys must not cost 10^10 comparisons).
struct Names<'de> {
    open: Vec<Cow<'de, str>>,
    /// The sets of the open objects that have many names, by where they begin in `open`.
    many: Vec<(usize, HashSet<Cow<'de, str>>)>,
}

/// Names an object compares in a list before it uses a set.
const FEW: usize = 32;

impl<'de> Names<'de> {
    /// Adds `name` to the object whose names begin at `start`; gives it back when the
    /// object has it already.
    fn insert(&mut self, start: usize, name: Cow<'de, str>) -> Result<(), Cow<'de, str>> {
        if let Some((_, set)) = self.many.last_mut().filter(|(begins, _)| *begins == start) {
            if set.contains(&name) {
                return Err(name);
            }
            set.insert(name);
            return Ok(());
        }
        let own = &self.open[start..];
        if own.contains(&name) {
            return Err(name);
        }
        if own.len() < FEW {
            self.open.push(name);
        } else {
            // The list keeps them too: an object opened inside this one begins after them.
            let mut set: HashSet<Cow<'de, str>> = own.iter().cloned().collect();
            set.insert(name);
            self.many.push((start, set));
        }
        Ok(())
    }

    /// Closes the object whose names begin at `start`.
    fn close(&mut self, start: usize) {
        self.open.truncate(start);
        if self.many.last().is_some_and(|(begins, _)| *begins == start) {
            self.many.pop();
        }
    }
}

/// A deserializer that forwards to `de`, with every visitor wrapped in [`Checked`].
struct Strict<'a, 'de, D> {
    de: D,
    at: At<'a, 'de>,
}

/// A visitor that forwards to `inner`, entering a level for each object or array, checking
/// member names, and wrapping what it hands on.
struct Checked<'a, 'de, V> {
    inner: V,
    at: At<'a, 'de>,
}

macro_rules! forward_deserialize {
    ($wrap:ident; $($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                let (de, wrapped) = $wrap(self, visitor);
                de.$method($($arg,)* wrapped)
            }
        )*
    };
}

macro_rules! deserializer_methods {
    ($wrap:ident) => {
        forward_deserialize! { $wrap;
            deserialize_any();
            deserialize_bool();
            deserialize_i8();
            deserialize_i16();
            deserialize_i32();
            deserialize_i64();
            deserialize_i128();
            deserialize_u8();
            deserialize_u16();
            deserialize_u32();
            deserialize_u64();
            deserialize_u128();
            deserialize_f32();
            deserialize_f64();
            deserialize_char();
            deserialize_str();
            deserialize_string();
            deserialize_bytes();
            deserialize_byte_buf();
            deserialize_option();
            deserialize_unit();
            deserialize_unit_struct(name: &'static str);
            deserialize_newtype_struct(name: &'static str);
            deserialize_seq();
            deserialize_tuple(len: usize);
            deserialize_tuple_struct(name: &'static str, len: usize);
            deserialize_map();
            deserialize_struct(name: &'static str, fields: &'static [&'static str]);
            deserialize_enum(name: &'static str, variants: &'static [&'static str]);
            deserialize_identifier();
        }

        /// Skipped values are walked all the same (serde_json would skip them unchecked).
        fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            let (de, wrapped) = $wrap(self, visitor);
            de.deserialize_any(wrapped)
        }

        fn is_human_readable(&self) -> bool {
            self.de.is_human_readable()
        }
    };
}

fn checked<'a, 'de, D, V>(s: Strict<'a, 'de, D>, inner: V) -> (D, Checked<'a, 'de, V>) {
    (s.de, Checked { inner, at: s.at })
}

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Strict<'_, 'de, D> {
    type Error = D::Error;
    deserializer_methods!(checked);
}

/// [`Strict`] for a value at `at`, as a seed.
struct StrictSeed<'a, 'de, S> {
    seed: S,
    at: At<'a, 'de>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<'_, 'de, S> {
    type Value = S::Value;
    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Strict { de, at: self.at })
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

/// The visits both wrapping visitors hand on unchanged: every value but strings, maps,
/// arrays and the wrappers.
macro_rules! forward_common_visits {
    () => {
        forward_visit! {
            visit_bool(bool);
            visit_i64(i64);
            visit_i128(i128);
            visit_u64(u64);
            visit_u128(u128);
            visit_f64(f64);
            visit_char(char);
            visit_bytes(&[u8]);
            visit_borrowed_bytes(&'de [u8]);
            visit_byte_buf(Vec<u8>);
        }
        fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
            self.inner.visit_none()
        }
        fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
            self.inner.visit_unit()
        }
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Checked<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }
    forward_common_visits!();
    forward_visit! {
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_f32(f32);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
    }
    fn visit_some<D: de::Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Strict { de, at: self.at })
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict { de, at: self.at })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let at = self.at.enter()?;
        self.inner.visit_seq(CheckedSeq { seq, at })
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let at = self.at.enter()?;
        let start = at.names.borrow().open.len();
        let value = self.inner.visit_map(CheckedMap { map, at, start })?;
        at.names.borrow_mut().close(start);
        Ok(value)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let at = self.at.enter()?;
        self.inner.visit_enum(CheckedEnum { data, at })
    }
}

struct CheckedSeq<'a, 'de, A> {
    seq: A,
    at: At<'a, 'de>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for CheckedSeq<'_, 'de, A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.seq.next_element_seed(StrictSeed { seed, at: self.at })
    }
    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct CheckedMap<'a, 'de, A> {
    map: A,
    at: At<'a, 'de>,
    /// Where this object's names begin in [`Names::open`].
    start: usize,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for CheckedMap<'_, 'de, A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let mut name = None;
        let key = self.map.next_key_seed(NameSeed { seed, name: &mut name })?;
        if let Some(name) = name
            && let Err(name) = self.at.names.borrow_mut().insert(self.start, name)
        {
            return Err(de::Error::custom(format_args!("duplicate key `{}`", name.escape_debug())));
        }
        Ok(key)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(StrictSeed { seed, at: self.at })
    }
    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

struct CheckedEnum<'a, 'de, A> {
    data: A,
    at: At<'a, 'de>,
}

impl<'a, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for CheckedEnum<'a, 'de, A> {
    type Error = A::Error;
    type Variant = CheckedVariant<'a, 'de, A::Variant>;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.data.variant_seed(seed)?;
        Ok((value, CheckedVariant { variant, at: self.at }))
    }
}

struct CheckedVariant<'a, 'de, A> {
    variant: A,
    at: At<'a, 'de>,
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for CheckedVariant<'_, 'de, A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.variant.unit_variant()
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.variant.newtype_variant_seed(StrictSeed { seed, at: self.at })
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.variant.tuple_variant(len, Checked { inner: visitor, at: self.at })
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.variant.struct_variant(fields, Checked { inner: visitor, at: self.at })
    }
}

/// The seed of a member name: the caller's, with the name kept on the way.
struct NameSeed<'a, 'de, S> {
    seed: S,
    name: &'a mut Option<Cow<'de, str>>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for NameSeed<'_, 'de, S> {
    type Value = S::Value;
    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(NameDe { de, name: self.name })
    }
}

/// A member name's deserializer: forwards, with the visitor wrapped in [`Named`].
struct NameDe<'a, 'de, D> {
    de: D,
    name: &'a mut Option<Cow<'de, str>>,
}

struct Named<'a, 'de, V> {
    inner: V,
    name: &'a mut Option<Cow<'de, str>>,
}

impl<'a, 'de, D: de::Deserializer<'de>> de::Deserializer<'de> for NameDe<'a, 'de, D> {
    type Error = D::Error;
    deserializer_methods!(named);
}

fn named<'a, 'de, D, V>(s: NameDe<'a, 'de, D>, inner: V) -> (D, Named<'a, 'de, V>) {
    (s.de, Named { inner, name: s.name })
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Named<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        *self.name = Some(Cow::Owned(v.to_owned()));
        self.inner.visit_str(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        *self.name = Some(Cow::Borrowed(v));
        self.inner.visit_borrowed_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        *self.name = Some(Cow::Owned(v.clone()));
        self.inner.visit_string(v)
    }
    // JSON member names are strings; the rest only forwards.
    forward_common_visits!();
    fn visit_some<D: de::Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(de)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(de)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(map)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

#[cfg(test)]
mod tests {
    use natsbridge_types::MsgEnvelopeV1;

    use super::*;

    const ENVELOPE: &str = r#"{"correlation_id":"5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20","msg_id":"5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e21","timestamp":"2026-11-29T21:58:30.123Z","send_to":"s","msg_purpose":"chat","sender_name":"n","sender_id":"i","receiver_name":"","receiver_id":"","reply_to":"","reply_to_msg_id":"","broker_url":"nats://127.0.0.1:4222","metadata":{"k":[1,{"x":null}]},"payloads":[{"id":"5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e22","dataname":"p","payload_type":"binary","transport":"direct","encoding":"base64","size":1,"data":"QQ==","metadata":{"sha256":"x"}}]}"#;

    /// What the two passes (`check`, then serde_json's typed parse) say of `bytes`.
    fn two_passes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        super::super::check(bytes).map_err(|why| format!("not strict: {why}"))?;
        serde_json::from_slice(bytes).map_err(|e| format!("typed: {e}"))
    }

    fn one_pass<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        from_slice(bytes).map_err(|refused| match refused {
            Refused::NotStrict(why) => format!("not strict: {why}"),
            Refused::Typed(e) => format!("typed: {e}"),
        })
    }

    /// The envelope with `from` replaced by `to` (once).
    fn edited(from: &str, to: &str) -> String {
        assert!(ENVELOPE.contains(from), "{from}");
        ENVELOPE.replacen(from, to, 1)
    }

    /// Every refusal of the two passes is the one pass's, with the same reason; what they
    /// accept it accepts, as the same value. Duplicates and depth are put where a typed
    /// parse has them: known fields, unknown fields (kept in `extra`), the envelope's and a
    /// payload's metadata, nested values, arrays; and beside typed errors, before and after.
    #[test]
    fn one_pass_answers_as_the_two_passes_do() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let cases = [
            ENVELOPE.to_owned(),
            edited(r#""send_to":"s""#, r#""send_to":"s","send_to":"t""#),
            edited(r#""send_to":"s""#, r#""send_to":"s","x":1,"x":2"#),
            edited(r#""send_to":"s""#, r#""send_to":"s","x":{"a":1,"\u0061":2}"#),
            edited(r#""send_to":"s""#, r#""send_to":"s","x":{"a":1},"y":{"a":1}"#),
            edited(r#""k":[1,{"x":null}]"#, r#""k":1,"k":2"#),
            edited(r#""k":[1,{"x":null}]"#, r#""k":[1,{"x":null,"x":0}]"#),
            edited(r#"{"sha256":"x"}"#, r#"{"sha256":"x","sha256":"y"}"#),
            edited(r#""size":1,"#, r#""size":1,"size":1,"#),
            edited(r#""size":1,"#, r#""size":1,"z":[{"q":1,"q":1}],"#),
            edited(r#""k":[1,{"x":null}]"#, &format!(r#""k":{}"#, deep(JSON_MAX_DEPTH - 2))),
            edited(r#""k":[1,{"x":null}]"#, &format!(r#""k":{}"#, deep(JSON_MAX_DEPTH - 1))),
            edited(r#""k":[1,{"x":null}]"#, &format!(r#""k":{}"#, deep(10_000))), // not a profile value
            edited(r#""send_to":"s""#, &format!(r#""send_to":"s","x":{}"#, deep(JSON_MAX_DEPTH))),
            // A typed error first, a duplicate after: still not strict JSON.
            edited(r#""size":1,"#, r#""size":"one","x":1,"x":2,"#),
            edited(r#""size":1,"#, r#""size":1.0,"#),
            edited(r#""msg_id":"5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e21""#, r#""msg_id":"nope""#),
            edited(r#""send_to":"s","#, ""),
            format!("{ENVELOPE} {{}}"),
            format!("\u{feff}{ENVELOPE}"),
            ENVELOPE.replace("\"payloads\":[", "\"payloads\":[ "),
        ];
        for case in &cases {
            let (one, two) =
                (one_pass::<MsgEnvelopeV1>(case.as_bytes()), two_passes::<MsgEnvelopeV1>(case.as_bytes()));
            assert_eq!(one, two, "{case}");
        }
        let accepted = cases.iter().filter(|c| two_passes::<MsgEnvelopeV1>(c.as_bytes()).is_ok()).count();
        assert!((3..cases.len() - 8).contains(&accepted), "both kinds are tried ({accepted} accepted)");
    }

    #[test]
    fn any_value_and_many_names() {
        for bytes in [&br#"[1,"a",{"b":null}]"#[..], br#"{"a":1,"a":2}"#, b"[[[]]]", b"{"] {
            assert_eq!(
                one_pass::<serde_json::Value>(bytes),
                two_passes(bytes),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let keys: Vec<String> = (0..1000).map(|i| format!("\"k{i}\":{i}")).collect();
        let many = format!("{{{}}}", keys.join(","));
        assert_eq!(one_pass::<serde_json::Value>(many.as_bytes()), two_passes(many.as_bytes()));
        let dup = format!("{{{},\"k999\":0}}", keys.join(","));
        assert!(one_pass::<serde_json::Value>(dup.as_bytes()).unwrap_err().contains("duplicate key `k999`"));
        // Objects inside an object of many names, and of many names themselves: each its own.
        let inner = |extra: &str| format!("{{{}{extra}}}", keys.join(","));
        for (bytes, ok) in [
            (format!("{{{},\"x\":{}}}", keys.join(","), inner("")), true),
            (format!("{{{},\"x\":{},\"y\":{}}}", keys.join(","), inner(""), inner("")), true),
            (format!("{{{},\"x\":{{\"k1\":1}},\"k5\":5}}", keys.join(",")), false),
            (format!("{{{},\"x\":{}}}", keys.join(","), inner(",\"k3\":3")), false),
            (format!("{{\"x\":{},\"x\":1}}", inner("")), false),
            (format!("{{\"a\":1,\"x\":{},\"a\":1}}", inner("")), false),
        ] {
            let one = one_pass::<serde_json::Value>(bytes.as_bytes());
            assert_eq!(one.is_ok(), ok, "{}", &bytes[bytes.len() - 60..]);
            assert_eq!(one, two_passes(bytes.as_bytes()));
        }
    }
}
