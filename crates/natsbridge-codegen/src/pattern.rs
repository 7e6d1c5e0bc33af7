//! Anchored schema `pattern`s compiled to straight-line Rust matchers.
//!
//! A constrained string is checked on every envelope that is built or parsed (four UUIDs
//! and a timestamp each), and a backtracking engine built per call costs 100–200 ns per
//! check: more than parsing the field. Patterns of the usual shape — `^…$`, ASCII
//! characters and classes, groups, `?`, `*`, `+`, `{n}`, `{n,m}` — compile here to a
//! matcher that reads each byte once. That is only right when one byte of lookahead
//! always decides whether a repetition goes on (the pattern is LL(1)): a repeated part
//! must not start with a byte that may follow it. Every other pattern (alternation,
//! `.`, negated classes, lookaround, ambiguous repetition) is left to the ECMA-262 engine
//! (regress), unchanged.
//!
//! Beside each matcher the generator writes sample strings, made from the pattern to sit
//! on both sides of it, and a test in the generated crate that checks the matcher agrees
//! with regress on every one.

use std::fmt::Write as _;

/// ASCII bytes as a bit set.
type Set = u128;

#[derive(Debug, Clone)]
enum Atom {
    Set(Set),
    Group(Vec<Item>),
}

#[derive(Debug, Clone)]
struct Item {
    atom: Atom,
    min: u32,
    /// `None`: unbounded.
    max: Option<u32>,
}

/// What may come after a part: bytes, and whether the end of the string may.
#[derive(Debug, Clone, Copy)]
struct Follow {
    bytes: Set,
    end: bool,
}

/// A compiled pattern: the body of `fn(s: &[u8]) -> bool`, and the strings to test it on.
pub(crate) struct Compiled {
    pub(crate) body: String,
    pub(crate) samples: Vec<String>,
}

/// Compiles `pattern`, or `None` when it is outside what this compiler proves right.
pub(crate) fn compile(pattern: &str) -> Option<Compiled> {
    let seq = parse(pattern)?;
    let mut body = String::new();
    // A pattern of one length (a UUID's 36) is checked for it first: the compiler then
    // knows every index is in bounds and drops the checks.
    if let Some(len) = fixed_len(&seq) {
        let _ = writeln!(body, "if s.len() != {len} {{ return false; }}");
    }
    body.push_str("let mut i = 0usize;\n");
    let mut names = 0;
    emit_seq(&seq, Follow { bytes: 0, end: true }, &mut body, &mut names)?;
    body.push_str("i == s.len()\n");
    Some(Compiled { body, samples: samples(&seq) })
}

/// The one length in bytes every match of `seq` has, if it has one.
fn fixed_len(seq: &[Item]) -> Option<u32> {
    seq.iter().try_fold(0u32, |len, item| {
        let one = match &item.atom {
            Atom::Set(_) => 1,
            Atom::Group(inner) => fixed_len(inner)?,
        };
        (item.max == Some(item.min)).then(|| len.checked_add(one.checked_mul(item.min)?))?
    })
}

/// One step of a pattern matched greedily, left to right: `min..=max` repetitions (`max`
/// `None`: unbounded) of one of `chars` or of a group of steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) what: StepAtom,
    pub(crate) min: u32,
    pub(crate) max: Option<u32>,
}

/// What a [`Step`] repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StepAtom {
    /// One of these ASCII characters, in byte order.
    Chars(String),
    /// A group.
    Group(Vec<Step>),
}

/// `pattern` as greedy steps, or `None` when greedy matching would not be exact: the same
/// LL(1) condition as [`compile`] (one byte of lookahead decides every repetition).
pub(crate) fn steps(pattern: &str) -> Option<Vec<Step>> {
    compile(pattern)?;
    Some(steps_of(&parse(pattern)?))
}

fn steps_of(seq: &[Item]) -> Vec<Step> {
    seq.iter()
        .map(|item| Step {
            what: match &item.atom {
                Atom::Set(set) => StepAtom::Chars(
                    (0..128u32).filter(|c| set & (1 << c) != 0).filter_map(char::from_u32).collect(),
                ),
                Atom::Group(inner) => StepAtom::Group(steps_of(inner)),
            },
            min: item.min,
            max: item.max,
        })
        .collect()
}

fn parse(pattern: &str) -> Option<Vec<Item>> {
    let inner = pattern.strip_prefix('^')?.strip_suffix('$')?;
    if !inner.is_ascii() || inner.ends_with('\\') {
        return None;
    }
    let mut p = Parser { s: inner.as_bytes(), i: 0 };
    let seq = p.seq()?;
    (p.i == p.s.len()).then_some(seq)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

const DIGITS: Set = range(b'0', b'9');

const fn range(lo: u8, hi: u8) -> Set {
    let mut set = 0;
    let mut c = lo;
    while c <= hi {
        set |= 1 << c;
        c += 1;
    }
    set
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn seq(&mut self) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b')' {
                break;
            }
            let atom = self.atom()?;
            let (min, max) = self.quantifier()?;
            items.push(Item { atom, min, max });
        }
        Some(items)
    }

    fn atom(&mut self) -> Option<Atom> {
        match self.next()? {
            b'(' => {
                if self.peek() == Some(b'?') {
                    // Only `(?:…)`; lookaround and named groups go to regress.
                    if self.s.get(self.i + 1) != Some(&b':') {
                        return None;
                    }
                    self.i += 2;
                }
                let seq = self.seq()?;
                (self.next()? == b')').then_some(Atom::Group(seq))
            }
            b'[' => self.class().map(Atom::Set),
            b'\\' => self.escape().map(Atom::Set),
            b'.' | b'*' | b'+' | b'?' | b'{' | b'}' | b'|' | b'^' | b'$' | b']' | b')' => None,
            c if c.is_ascii_graphic() || c == b' ' => Some(Atom::Set(1 << c)),
            _ => None,
        }
    }

    /// After a backslash: `\d`, or an escaped punctuation character.
    fn escape(&mut self) -> Option<Set> {
        match self.next()? {
            b'd' => Some(DIGITS),
            c if b".-\\/()[]{}?*+|^$".contains(&c) => Some(1 << c),
            _ => None,
        }
    }

    /// After `[`: ranges and characters up to `]`; negated classes go to regress (they
    /// match non-ASCII characters, which a byte matcher would count wrong).
    fn class(&mut self) -> Option<Set> {
        if self.peek() == Some(b'^') {
            return None;
        }
        let mut set = 0;
        loop {
            let lo = match self.next()? {
                b']' if set != 0 => return Some(set),
                b'\\' => {
                    let e = self.escape()?;
                    if e.count_ones() > 1 {
                        set |= e;
                        continue;
                    }
                    e.trailing_zeros() as u8
                }
                b'[' | b']' => return None,
                c => c,
            };
            if self.peek() == Some(b'-') && self.s.get(self.i + 1).is_some_and(|c| *c != b']') {
                self.i += 1;
                let hi = match self.next()? {
                    b'\\' => {
                        let e = self.escape()?;
                        if e.count_ones() > 1 {
                            return None;
                        }
                        e.trailing_zeros() as u8
                    }
                    c => c,
                };
                if hi < lo {
                    return None;
                }
                set |= range(lo, hi);
            } else {
                set |= 1 << lo;
            }
        }
    }

    fn quantifier(&mut self) -> Option<(u32, Option<u32>)> {
        let q = match self.peek() {
            Some(b'?') => (0, Some(1)),
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'{') => {
                let close = self.i + self.s[self.i..].iter().position(|c| *c == b'}')?;
                let text = std::str::from_utf8(&self.s[self.i + 1..close]).ok()?;
                // Digits and one comma only: `{+3}` is text to an ECMA-262 engine, not a count.
                if !text.bytes().all(|c| c.is_ascii_digit() || c == b',') {
                    return None;
                }
                self.i = close;
                match text.split_once(',') {
                    None => {
                        let n = text.parse().ok()?;
                        (n, Some(n))
                    }
                    Some((lo, "")) => (lo.parse().ok()?, None),
                    Some((lo, hi)) => (lo.parse().ok()?, Some(hi.parse().ok()?)),
                }
            }
            _ => return Some((1, Some(1))),
        };
        self.i += 1;
        // Lazy quantifiers, and bounds the wrong way round, go to regress.
        if self.peek() == Some(b'?') || q.1.is_some_and(|max| max < q.0) {
            return None;
        }
        Some(q)
    }
}

/// The bytes a part may start with, and whether it may match nothing.
fn first_atom(atom: &Atom) -> (Set, bool) {
    match atom {
        Atom::Set(set) => (*set, false),
        Atom::Group(seq) => first_seq(seq),
    }
}

fn first_seq(seq: &[Item]) -> (Set, bool) {
    let mut bytes = 0;
    for item in seq {
        let (first, nullable) = first_atom(&item.atom);
        bytes |= first;
        if !nullable && item.min > 0 {
            return (bytes, false);
        }
    }
    (bytes, true)
}

/// What may follow item `k` of `seq`, given what may follow the whole sequence.
fn follow_of(seq: &[Item], k: usize, outer: Follow) -> Follow {
    let (bytes, nullable) = first_seq(&seq[k + 1..]);
    if nullable {
        Follow { bytes: bytes | outer.bytes, end: outer.end }
    } else {
        Follow { bytes, end: false }
    }
}

fn emit_seq(seq: &[Item], outer: Follow, out: &mut String, names: &mut usize) -> Option<()> {
    for (k, item) in seq.iter().enumerate() {
        emit_item(item, follow_of(seq, k, outer), out, names)?;
    }
    Some(())
}

fn emit_item(item: &Item, follow: Follow, out: &mut String, names: &mut usize) -> Option<()> {
    let (first, nullable) = first_atom(&item.atom);
    let repeats = item.max != Some(item.min);
    // One byte of lookahead must decide: go on repeating, or leave it to what follows.
    if repeats && (nullable || first == 0 || first & follow.bytes != 0) {
        return None;
    }
    let again = item.max.is_none_or(|max| max > 1);
    let inner = Follow { bytes: follow.bytes | if again { first } else { 0 }, end: follow.end };
    // A counter only where a bound needs one.
    let counted = repeats && (item.min > 0 || item.max.is_some());
    let n = format!("n{names}");
    *names += 1;
    let bound = item.max.filter(|_| counted).map(|max| format!("{n} < {max} && ")).unwrap_or_default();
    let (open, close) = if counted {
        (
            format!("let mut {n} = 0u32;\n"),
            if item.min > 0 { format!("if {n} < {} {{ return false; }}\n", item.min) } else { String::new() },
        )
    } else {
        (String::new(), String::new())
    };
    let count = if counted { format!("{n} += 1;") } else { String::new() };
    match &item.atom {
        Atom::Set(set) if !repeats => {
            let check = format!("if i >= s.len() || !{} {{ return false; }} i += 1;", test(*set));
            let _ = match item.min {
                0 => Ok(()),
                1 => writeln!(out, "{check}"),
                times => writeln!(out, "for _ in 0..{times} {{ {check} }}"),
            };
        }
        Atom::Set(set) => {
            let _ = write!(
                out,
                "{open}while {bound}i < s.len() && {} {{ i += 1; {count} }}\n{close}",
                test(*set)
            );
        }
        Atom::Group(seq) if !repeats => {
            for _ in 0..item.min.min(1) {
                let _ = match item.min {
                    1 => writeln!(out, "{{"),
                    times => writeln!(out, "for _ in 0..{times} {{"),
                };
                emit_seq(seq, inner, out, names)?;
                out.push_str("}\n");
            }
        }
        Atom::Group(seq) => {
            let _ = writeln!(out, "{open}while {bound}i < s.len() && {} {{", test(first));
            emit_seq(seq, inner, out, names)?;
            let _ = write!(out, "{count}\n}}\n{close}");
        }
    }
    Some(())
}

/// `matches!(s[i], …)` for a byte set, as ranges.
fn test(set: Set) -> String {
    let mut arms = Vec::new();
    let mut c = 0u32;
    while c < 128 {
        if set & (1 << c) == 0 {
            c += 1;
            continue;
        }
        let lo = c;
        while c + 1 < 128 && set & (1 << (c + 1)) != 0 {
            c += 1;
        }
        arms.push(if lo == c { byte(lo) } else { format!("{}..={}", byte(lo), byte(c)) });
        c += 1;
    }
    if arms.len() == 1 {
        return format!("matches!(s[i], {})", arms[0]);
    }
    // Several ranges: one bit test, without branches (a chain of range checks mispredicts
    // on every other byte of random text such as a UUID's hex digits).
    format!("(s[i] < 128 && (0x{set:x}u128 >> s[i]) & 1 == 1 /* {} */)", arms.join(" | "))
}

fn byte(c: u32) -> String {
    format!("b'{}'", char::from_u32(c).expect("ASCII").escape_default())
}

/// Strings on both sides of the pattern: matching ones built from it (each repetition at
/// its least, its most, and between), and each of those with one byte deleted, doubled,
/// replaced or added at either end.
fn samples(seq: &[Item]) -> Vec<String> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut good = Vec::new();
    for pick in [Pick::Least, Pick::Most, Pick::Random, Pick::Random, Pick::Random] {
        let mut s = String::new();
        build(seq, pick, &mut seed, &mut s);
        good.push(s);
    }
    let mut all: Vec<String> = good.clone();
    for g in &good {
        let b = g.as_bytes();
        for at in [0, b.len() / 3, b.len() / 2, b.len().saturating_sub(1)] {
            if at < b.len() {
                let mut deleted = b.to_vec();
                deleted.remove(at);
                let mut doubled = b.to_vec();
                doubled.insert(at, b[at]);
                let mut replaced = b.to_vec();
                replaced[at] = b"x/Z.-0 "[(next(&mut seed) % 7) as usize];
                all.extend([deleted, doubled, replaced].map(|v| String::from_utf8(v).expect("ASCII")));
            }
        }
        all.push(format!("{g}0"));
        all.push(format!("x{g}"));
        all.push(format!("{g}\n"));
        all.push(format!("{g}é"));
    }
    all.push(String::new());
    all.sort();
    all.dedup();
    all
}

#[derive(Clone, Copy)]
enum Pick {
    Least,
    Most,
    Random,
}

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn build(seq: &[Item], pick: Pick, seed: &mut u64, out: &mut String) {
    for item in seq {
        let most = item.max.unwrap_or(item.min + 3);
        let count = match pick {
            Pick::Least => item.min,
            Pick::Most => most,
            Pick::Random => item.min + (next(seed) % u64::from(most - item.min + 1)) as u32,
        };
        for _ in 0..count {
            match &item.atom {
                Atom::Set(set) => {
                    let members: Vec<u8> = (0..128u8).filter(|c| set & (1 << c) != 0).collect();
                    out.push(members[(next(seed) % members.len() as u64) as usize] as char);
                }
                Atom::Group(inner) => build(inner, pick, seed, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two patterns of our schema compile; what needs more than one byte of
    /// lookahead, or an engine's full syntax, does not.
    #[test]
    fn what_compiles_and_what_goes_to_regress() {
        for pattern in [
            r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$",
            r"^[a-z][a-z0-9_]*$",
            r"^(?:[A-Z]{2}-)+[0-9]+$",
            r"^\d{3}[\-\.]?\d{4}$",
        ] {
            assert!(compile(pattern).is_some(), "{pattern}");
        }
        for pattern in [
            r"[0-9]+",        // not anchored
            r"^a|b$",         // alternation
            r"^.+$",          // any character
            r"^[^/]+$",       // negated class
            r"^[0-9]*[0-9]$", // the repetition cannot know when to stop
            r"^(ab)?a$",      // nor can the optional group
            r"^(a?)*$",       // a repetition that may match nothing
            r"^a+?$",         // lazy
            r"^(?=a)a$",      // lookahead
            r"^\w+$",         // a class this compiler does not know
            r"^é$",           // non-ASCII
            r"^a{3,2}$",      // bounds the wrong way round
        ] {
            assert!(compile(pattern).is_none(), "{pattern}");
        }
    }

    #[test]
    fn samples_sit_on_both_sides() {
        let compiled = compile(r"^[0-9]{2}(\.[0-9]{1,3})?Z$").unwrap();
        assert!(compiled.samples.iter().any(|s| s == "00Z" || s.len() == 3 && s.ends_with('Z')));
        assert!(compiled.samples.iter().any(|s| s.contains('.')));
        assert!(compiled.samples.iter().any(|s| s.is_empty()));
        assert!(compiled.samples.len() > 30, "{}", compiled.samples.len());
    }

    #[test]
    fn byte_tests_are_ranges() {
        assert_eq!(
            test(range(b'0', b'9') | range(b'a', b'f') | 1 << b'-'),
            "(s[i] < 128 && (0x7e0000000003ff200000000000u128 >> s[i]) & 1 == 1 /* b'-' | b'0'..=b'9' | b'a'..=b'f' */)"
        );
        assert_eq!(test(range(b'0', b'9')), "matches!(s[i], b'0'..=b'9')");
        assert_eq!(test(1 << b'\''), r"matches!(s[i], b'\'')");
    }
}
