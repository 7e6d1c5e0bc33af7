//! Strict JSON, as every runtime reads it (schema/README.md, rules 8 and 9).
//!
//! serde_json already refuses most of what the rules refuse: bytes that are not UTF-8, a
//! byte-order mark, `NaN`, numbers out of a double's range (`1e400`), lone surrogate
//! escapes, and (through the generated types) an integer field written `5.0`, `5e0` or `-0`.
//! Two things it lets through are checked here, in the same pass as the typed parse
//! ([`from_slice`]) or on their own ([`check`]):
//! duplicate member names in maps (`metadata`, unknown fields: serde keeps the last, as
//! `JSON.parse` and `json.loads` do, so two readers could see two different envelopes), and
//! nesting deeper than [`JSON_MAX_DEPTH`] (the outermost value is depth 1).
//!
//! ```
//! use natsbridge::json::check;
//! assert!(check(br#"{"a":{"b":[1,2]}}"#).is_ok());
//! assert!(check(br#"{"a":1,"a":2}"#).unwrap_err().contains("duplicate"));
//! assert!(check(b"\xEF\xBB\xBF{}").is_err());
//! ```

mod typed;

pub use typed::{Refused, from_slice};

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use natsbridge_types::profile::JSON_MAX_DEPTH;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Checks that `bytes` hold exactly one strict JSON value; the reason otherwise.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    check_depth(bytes, JSON_MAX_DEPTH)
}

/// [`check`] with another depth limit.
pub fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Walk { depth: 1, max_depth }.deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

/// Parses `bytes` as exactly one strict JSON value in one pass: what [`check`] refuses is
/// refused with the same reason, and what it accepts is the value `serde_json` reads.
///
/// ```
/// use natsbridge::json::parse;
/// assert_eq!(parse(br#"{"a":[1,"x"]}"#).unwrap(), serde_json::json!({"a": [1, "x"]}));
/// assert!(parse(br#"{"a":1,"a":2}"#).unwrap_err().contains("duplicate key `a`"));
/// ```
pub fn parse(bytes: &[u8]) -> Result<serde_json::Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Build(Walk { depth: 1, max_depth: JSON_MAX_DEPTH })
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Builds the value [`Walk`] checks, with the same depth rule; duplicate keys are found by
/// the map being built (the last one would silently win in `serde_json`'s own parse).
#[derive(Clone, Copy)]
struct Build(Walk);

impl<'de> DeserializeSeed<'de> for Build {
    type Value = serde_json::Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<serde_json::Value, E> {
        // serde_json reads no NaN or infinity; `from_f64` refuses only those.
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<serde_json::Value, A::Error> {
        let inner = Build(self.0.enter()?);
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<serde_json::Value, A::Error> {
        let inner = Build(self.0.enter()?);
        let mut members = serde_json::Map::new();
        while let Some(Key(key)) = map.next_key()? {
            if members.contains_key(key.as_ref()) {
                return Err(de::Error::custom(format_args!("duplicate key `{}`", key.escape_debug())));
            }
            let value = map.next_value_seed(inner)?;
            members.insert(key.into_owned(), value);
        }
        Ok(serde_json::Value::Object(members))
    }
}

/// Walks one value at `depth`, refusing duplicate keys and nesting past `max_depth`.
#[derive(Clone, Copy)]
struct Walk {
    depth: usize,
    max_depth: usize,
}

impl Walk {
    fn enter<E: de::Error>(self) -> Result<Walk, E> {
        if self.depth > self.max_depth {
            return Err(E::custom(format_args!("nested deeper than {} levels", self.max_depth)));
        }
        Ok(Walk { depth: self.depth + 1, ..self })
    }
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        // Few keys (an envelope has 14): on the stack, no allocation; many: a set (a hostile
        // object of 100 000 keys must not cost 10^10 comparisons).
        const FEW: usize = 32;
        let mut few: [Option<Cow<'de, str>>; FEW] = Default::default();
        let mut len = 0;
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(Key(key)) = map.next_key()? {
            let dup = if len < FEW {
                few[..len].iter().any(|k| k.as_ref() == Some(&key))
            } else {
                if many.is_empty() {
                    many.extend(few.iter_mut().filter_map(Option::take));
                }
                many.contains(&key)
            };
            if dup {
                return Err(de::Error::custom(format_args!("duplicate key `{}`", key.escape_debug())));
            }
            if len < FEW {
                few[len] = Some(key);
            } else {
                many.insert(key);
            }
            len += 1;
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(n: usize) -> String {
        format!("{}{}", "[".repeat(n), "]".repeat(n))
    }

    #[test]
    fn the_rules() {
        for ok in [
            &br#"{"a":"\u0000","b":[1,-0,5.0,1e300],"c":{"a":1},"\u00e9":1,"\u00c3\u00a9":2}"#[..],
            br#"{"a":"\ud83d\ude00"}"#,
            b" \t\r\n{}\n",
        ] {
            assert_eq!(check(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
        for (bad, why) in [
            (&b"\xEF\xBB\xBF{}"[..], "expected value"),
            (br#"{"a":1,"a":2}"#, "duplicate key `a`"),
            (br#"{"m":{"x":1,"\u0078":2}}"#, "duplicate key `x`"),
            (br#"{"a":1e400}"#, "out of range"),
            (br#"{"a":NaN}"#, "expected value"),
            (br#"{"a":"\ud800"}"#, "escape"),
            (br#"{"a":"\udc00\ud800"}"#, "surrogate"),
            (b"{\"a\":\"\xff\"}", "invalid unicode"),
            (b"{\"a\":\"\x00\"}", "control character"),
            (b"{} {}", "trailing"),
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains(why), "{}: {err}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn parse_accepts_and_refuses_what_check_does() {
        let ok: [&[u8]; 4] = [
            br#"{"a":"\u0000","b":[1,-0,5.0,1e300,-7,18446744073709551615],"c":{"a":1},"\u00e9":1,"\u00c3\u00a9":2}"#,
            br#"{"a":"\ud83d\ude00","n":null,"t":true,"e":[],"o":{}}"#,
            b" \t\r\n{}\n",
            br#"[{"x":0.1},"s",false]"#,
        ];
        for bytes in ok {
            let want: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            assert_eq!(parse(bytes), Ok(want), "{}", String::from_utf8_lossy(bytes));
        }
        for bad in [
            &b"\xEF\xBB\xBF{}"[..],
            br#"{"a":1,"a":2}"#,
            br#"{"m":{"x":1,"\u0078":2}}"#,
            br#"{"a":1e400}"#,
            br#"{"a":"\ud800"}"#,
            b"{} {}",
            nested(JSON_MAX_DEPTH + 1).as_bytes(),
            nested(100_000).as_bytes(),
        ] {
            assert_eq!(
                parse(bad).map(drop),
                check(bad),
                "{}",
                String::from_utf8_lossy(&bad[..bad.len().min(40)])
            );
        }
        assert_eq!(parse(nested(JSON_MAX_DEPTH).as_bytes()).map(drop), Ok(()));
    }

    #[test]
    fn depth_counts_the_outermost_value_as_one() {
        assert_eq!(check(nested(JSON_MAX_DEPTH).as_bytes()), Ok(()));
        assert!(check(nested(JSON_MAX_DEPTH + 1).as_bytes()).unwrap_err().contains("nested deeper"));
        assert!(check(nested(100_000).as_bytes()).is_err());
    }

    #[test]
    fn many_keys_are_checked_with_a_set() {
        let keys: Vec<String> = (0..1000).map(|i| format!("\"k{i}\":{i}")).collect();
        assert_eq!(check(format!("{{{}}}", keys.join(",")).as_bytes()), Ok(()));
        let dup = format!("{{{},\"k999\":0}}", keys.join(","));
        assert!(check(dup.as_bytes()).unwrap_err().contains("duplicate key `k999`"));
    }
}
