//! The documents of one spec: the AsyncAPI document and every file its `$ref`s name,
//! read once, and places in them ([`At`]: a file and a JSON pointer) for error messages in
//! AsyncAPI's own terms.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail, format_err};
use serde_json::Value;

/// A place in one of the spec's documents: the file (empty for the AsyncAPI document
/// itself) and a JSON pointer into it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct At {
    /// The file, relative to the AsyncAPI document's directory; empty: the document.
    pub(super) file: String,
    /// A JSON pointer (`/components/messages/lightMeasured/payload`).
    pub(super) ptr: String,
}

impl At {
    /// A place in the AsyncAPI document.
    pub(super) fn root(ptr: &str) -> At {
        At { file: String::new(), ptr: ptr.to_owned() }
    }

    /// One level down: `key` is escaped as a pointer token.
    pub(super) fn join(&self, key: &str) -> At {
        At {
            file: self.file.clone(),
            ptr: format!("{}/{}", self.ptr, key.replace('~', "~0").replace('/', "~1")),
        }
    }

    /// The place as a URI reference: `#/components/schemas/Lumens`, or
    /// `schemas/lumens.json#/properties/x` in a file beside the document.
    pub(super) fn uri(&self) -> String {
        format!("{}#{}", self.file, self.ptr)
    }

    /// The pointer's last token, unescaped.
    pub(super) fn last(&self) -> &str {
        self.ptr.rsplit('/').next().unwrap_or_default()
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ptr = if self.ptr.is_empty() { "/" } else { &self.ptr };
        if self.file.is_empty() { write!(f, "`{ptr}`") } else { write!(f, "`{}#{ptr}`", self.file) }
    }
}

/// An error at a place: `` `/channels/x/address`: what is wrong ``.
pub(super) fn refuse(at: &At, what: impl fmt::Display) -> anyhow::Error {
    format_err!("{at}: {what}")
}

/// The AsyncAPI document and the files it refers to.
pub(super) struct Docs {
    dir: PathBuf,
    /// Parsed files by their path relative to `dir` (`""`: the document).
    files: BTreeMap<String, Value>,
    /// The text of every file read besides the document, for the spec's hash.
    pub(super) texts: BTreeMap<String, String>,
}

impl Docs {
    pub(super) fn new(doc: Value, dir: &Path) -> Docs {
        let mut files = BTreeMap::new();
        files.insert(String::new(), doc);
        Docs { dir: dir.to_path_buf(), files, texts: BTreeMap::new() }
    }

    /// The AsyncAPI document.
    pub(super) fn doc(&self) -> &Value {
        &self.files[""]
    }

    /// The value at `at`.
    pub(super) fn get(&self, at: &At) -> Option<&Value> {
        self.files.get(&at.file)?.pointer(&at.ptr)
    }

    /// `value` (found at `at`), or what its `$ref` points at, following chains of `$ref`s;
    /// with the place it was found.
    pub(super) fn deref(&mut self, at: &At, value: &Value) -> Result<(At, Value)> {
        let mut at = at.clone();
        let mut value = value.clone();
        for _ in 0..32 {
            let Some(r) = value.get("$ref").and_then(Value::as_str) else { return Ok((at, value)) };
            let target = self.target(&at, r)?;
            value = self
                .get(&target)
                .cloned()
                .ok_or_else(|| refuse(&at, format!("`$ref: {r}` points at nothing")))?;
            at = target;
        }
        Err(refuse(&at, "a cycle of `$ref`s"))
    }

    /// Where the reference `r`, written at `at`, points (reading the file it names).
    pub(super) fn target(&mut self, at: &At, r: &str) -> Result<At> {
        if r.contains("://") {
            bail!(
                "{at}: `$ref: {r}` is a remote reference: the generator reads only files beside the \
                 document (download it next to the document and refer to it by a relative path)"
            );
        }
        let (file, ptr) = r.split_once('#').unwrap_or((r, ""));
        let ptr = percent_decode(ptr);
        if file.is_empty() {
            return Ok(At { file: at.file.clone(), ptr });
        }
        let base = Path::new(&at.file).parent().unwrap_or(Path::new(""));
        let rel = normalize(&base.join(file)).ok_or_else(|| {
            refuse(at, format!("`$ref: {r}` is an absolute path: refer to files relative to the document"))
        })?;
        if !self.files.contains_key(&rel) {
            let path = self.dir.join(&rel);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| refuse(at, format!("`$ref: {r}`: reading {}: {e}", path.display())))?;
            let value: Value = if rel.ends_with(".json") {
                serde_json::from_str(&text).map_err(|e| refuse(at, format!("`$ref: {r}`: {e}")))?
            } else {
                serde_norway::from_str(&text).map_err(|e| refuse(at, format!("`$ref: {r}`: {e}")))?
            };
            self.files.insert(rel.clone(), value);
            self.texts.insert(rel.clone(), text);
        }
        Ok(At { file: rel, ptr })
    }
}

/// `a/./b/../c` → `a/c`, with `/` separators (`../x` stays: a file beside the document's
/// directory); `None` for an absolute path.
fn normalize(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else {
                    parts.push("..".into());
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// `%7B` → `{` in a reference's pointer.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_print_as_pointers_and_paths_normalize() {
        let at = At::root("/channels").join("a/b").join("x~y");
        assert_eq!(at.to_string(), "`/channels/a~1b/x~0y`");
        assert_eq!(normalize(Path::new("a/./b/../c.yaml")).as_deref(), Some("a/c.yaml"));
        assert_eq!(normalize(Path::new("a/../../c.yaml")).as_deref(), Some("../c.yaml"));
        assert_eq!(normalize(Path::new("/etc/c.yaml")), None);
        assert_eq!(percent_decode("/channels/%7Bid%7D"), "/channels/{id}");
    }

    #[test]
    fn remote_references_are_refused_by_name() {
        let mut docs = Docs::new(Value::Null, Path::new("."));
        let err = docs.target(&At::root("/components/schemas/A"), "https://example.com/a.json").unwrap_err();
        assert!(err.to_string().contains("remote reference"), "{err}");
    }
}
