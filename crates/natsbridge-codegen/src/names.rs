//! Identifier rules per target language: case conversion and keyword escaping.

/// Splits `updateStatus`, `arrow-ipc`, `INVALID_PAYLOAD_TYPE`, `MsgEnvelopeV1` into words.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub fn pascal(s: &str) -> String {
    let mut out: String = words(s)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut cs = lower.chars();
            cs.next().map(|f| f.to_ascii_uppercase().to_string() + cs.as_str()).unwrap_or_default()
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// [`pascal`] with a lowercase first letter: `send_command` → `sendCommand`.
pub fn camel(s: &str) -> String {
    let p = pascal(s);
    let mut c = p.chars();
    c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default()
}

pub fn snake(s: &str) -> String {
    let out = words(s).iter().map(|w| w.to_ascii_lowercase()).collect::<Vec<_>>().join("_");
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) { format!("v_{out}") } else { out }
}

pub fn upper_snake(s: &str) -> String {
    snake(s).to_ascii_uppercase()
}

/// True when `s` is a plain ASCII identifier (letters, digits, `_`, not starting with a digit).
pub fn is_plain_ident(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
    "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

const JULIA_KEYWORDS: &[&str] = &[
    "baremodule",
    "begin",
    "break",
    "catch",
    "const",
    "continue",
    "do",
    "else",
    "elseif",
    "end",
    "export",
    "false",
    "finally",
    "for",
    "function",
    "global",
    "if",
    "import",
    "let",
    "local",
    "macro",
    "module",
    "quote",
    "return",
    "struct",
    "true",
    "try",
    "using",
    "while",
    "abstract",
    "mutable",
    "primitive",
    "type",
    "where",
    "outer",
];

/// Type names that would shadow TypeScript globals or keywords.
const TS_RESERVED_TYPES: &[&str] = &[
    "Array",
    "Boolean",
    "Date",
    "Error",
    "Function",
    "Map",
    "Number",
    "Object",
    "Promise",
    "Record",
    "Set",
    "String",
    "Symbol",
    "any",
    "never",
    "number",
    "object",
    "string",
    "unknown",
    "Class",
    "Enum",
    "Interface",
    "Type",
];

/// Words Rust reserves that can come out of [`pascal`] (typify's `accept_as_ident`).
const RUST_PASCAL_KEYWORDS: &[&str] = &["Self"];

/// A Rust type or variant name: [`pascal`], with `_` after a reserved word, as typify
/// names the types it generates (so its replacement keys match ours).
pub fn rust_type_name(name: &str) -> String {
    let p = pascal(name);
    if RUST_PASCAL_KEYWORDS.contains(&p.as_str()) { format!("{p}_") } else { p }
}

/// Rust's strict and reserved keywords, which a snake_case name may collide with.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "priv",
    "pub", "ref", "return", "static", "struct", "super", "trait", "true", "try", "type", "unsafe", "use",
    "where", "while", "yield", "abstract", "become", "do", "final", "macro", "override", "typeof", "unsized",
    "virtual",
];

/// A Rust function, field or parameter name: [`snake`], raw (`r#type`) when a keyword.
pub fn rust_ident(name: &str) -> String {
    let s = snake(name);
    if RUST_KEYWORDS.contains(&s.as_str()) { format!("r#{s}") } else { s }
}

pub fn python_field_ok(name: &str) -> bool {
    is_plain_ident(name) && !PYTHON_KEYWORDS.contains(&name)
}

pub fn python_ident(name: &str) -> String {
    let s = snake(name);
    if PYTHON_KEYWORDS.contains(&s.as_str()) { format!("{s}_") } else { s }
}

pub fn julia_field(name: &str) -> String {
    let base = if is_plain_ident(name) { name.to_owned() } else { snake(name) };
    if JULIA_KEYWORDS.contains(&base.as_str()) { format!("{base}_") } else { base }
}

pub fn ts_type_name(name: &str) -> String {
    let p = pascal(name);
    if TS_RESERVED_TYPES.contains(&p.as_str()) { format!("{p}_") } else { p }
}

pub fn ts_property(name: &str) -> String {
    if is_plain_ident(name) { name.to_owned() } else { format!("{name:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(pascal("updateStatus"), "UpdateStatus");
        assert_eq!(pascal("arrow-ipc"), "ArrowIpc");
        assert_eq!(pascal("INVALID_PAYLOAD_TYPE"), "InvalidPayloadType");
        assert_eq!(pascal("ACK"), "Ack");
        assert_eq!(snake("MsgEnvelopeV1"), "msg_envelope_v1");
        assert_eq!(snake("HTTPServer"), "http_server");
        assert_eq!(upper_snake("arrow-ipc"), "ARROW_IPC");
        assert_eq!(python_ident("class"), "class_");
        assert_eq!(julia_field("end"), "end_");
        assert_eq!(ts_property("arrow-ipc"), "\"arrow-ipc\"");
        assert_eq!(ts_type_name("object"), "Object_");
        assert_eq!(rust_type_name("import"), "Import");
        assert_eq!(rust_type_name("self"), "Self_");
    }
}
