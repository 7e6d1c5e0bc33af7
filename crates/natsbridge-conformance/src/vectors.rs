//! The golden vectors: loaded from the embedded copy of `conformance/v1/` or from a
//! directory laid out the same way (`<group>.json` files and `blobs/`), and checked for the
//! keys every vector needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use axum::body::Bytes;
use serde_json::Value;

use crate::embedded;

/// One golden vector.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Its id, unique across all groups (`bad-data/size-too-small`).
    pub id: String,
    /// Its group (the `group` of its file).
    pub group: String,
    /// The envelope text as sent (`{{BLOBS}}` not yet replaced by the blob server's host);
    /// for a byte vector, its bytes read as UTF-8 with replacement characters.
    pub text: String,
    /// A byte vector (`"decode_only": true`, the `hostile` group): the exact bytes of the
    /// message body (`envelope_base64`, or the text's UTF-8), sent as `{"op": "decode",
    /// "bytes": B64}` and only decoded: a schema validator has no verdict on bytes that are
    /// not strict JSON.
    pub bytes: Option<Vec<u8>>,
    /// The whole vector: `valid`, `reader`, `decode`, `relay`, ...
    pub expect: Value,
}

/// One case of a behaviour group: a call given to every lane, not an envelope.
#[derive(Debug, Clone)]
pub struct Case {
    /// Its id, unique across all groups (`writer-api/every-field`).
    pub id: String,
    /// Its group.
    pub group: String,
    /// What it asks of a lane: `send` (`smartsend` from API-level inputs), `fetch`
    /// (`fetch_with_backoff` against a scripted server) or `typed` (a generated package's
    /// encode or decode of one message value).
    pub op: CaseOp,
    /// The whole case: `send` or `script` and `options`, and `expect`.
    pub body: Value,
}

/// The kinds of behaviour case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseOp {
    Send,
    Fetch,
    Typed,
    /// A replay start read in the one grammar (`arguments`).
    Start,
    /// An allowed host read in its one form (`arguments`).
    AllowHost,
    /// A responder's error response built from an error (`replies`).
    ReplyError,
    /// A requester's reading of a reply (`replies`).
    DecodeReply,
    /// Connection settings resolved from flags, environment and context files (`arguments`).
    ConnectSettings,
}

impl CaseOp {
    /// The protocol's name of the op.
    pub fn name(self) -> &'static str {
        match self {
            CaseOp::Send => "send",
            CaseOp::Fetch => "fetch",
            CaseOp::Typed => "typed",
            CaseOp::Start => "start",
            CaseOp::AllowHost => "allow_host",
            CaseOp::ReplyError => "reply_error",
            CaseOp::DecodeReply => "decode_reply",
            CaseOp::ConnectSettings => "connect_settings",
        }
    }
}

/// Every vector of one schema version, with the blobs its link vectors point at.
#[derive(Debug, Clone)]
pub struct Vectors {
    /// In file-name order, then in file order.
    pub vectors: Vec<Vector>,
    /// The behaviour cases (files with `"cases"`), in file-name order, then in file order.
    pub cases: Vec<Case>,
    /// `blobs/<name>` by name.
    pub blobs: BTreeMap<String, Bytes>,
    /// Where they came from, for messages: `embedded v1` or the directory.
    pub source: String,
}

impl Vectors {
    /// The v1 vectors compiled into this library (`conformance/v1/` when it was built).
    pub fn embedded() -> Result<Vectors> {
        let (vectors, cases) =
            parse(embedded::VECTOR_FILES.iter().map(|(n, t)| ((*n).to_owned(), (*t).to_owned())))?;
        let blobs =
            embedded::BLOB_FILES.iter().map(|(n, b)| ((*n).to_owned(), Bytes::from_static(b))).collect();
        Ok(Vectors { vectors, cases, blobs, source: "embedded v1".into() })
    }

    /// The vectors of a directory laid out as `conformance/v1/`: `*.json` files, one group
    /// each, and `blobs/` (optional) for the link vectors.
    pub fn from_dir(dir: &Path) -> Result<Vectors> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut texts = Vec::new();
        for file in files {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            texts.push((file.display().to_string(), text));
        }
        let (vectors, cases) = parse(texts.into_iter())?;
        let mut blobs = BTreeMap::new();
        let blob_dir = dir.join("blobs");
        if blob_dir.is_dir() {
            for entry in
                std::fs::read_dir(&blob_dir).with_context(|| format!("reading {}", blob_dir.display()))?
            {
                let path = entry?.path();
                if path.is_file() {
                    let name = path.file_name().context("a file name")?.to_string_lossy().into_owned();
                    let bytes =
                        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                    blobs.insert(name, Bytes::from(bytes));
                }
            }
        }
        Ok(Vectors { vectors, cases, blobs, source: dir.display().to_string() })
    }

    /// The groups, vectors' and cases', sorted.
    pub fn groups(&self) -> Vec<String> {
        self.vectors
            .iter()
            .map(|v| v.group.clone())
            .chain(self.cases.iter().map(|c| c.group.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

/// Parses vector files given as (name for messages, text), in that order.
fn parse(files: impl Iterator<Item = (String, String)>) -> Result<(Vec<Vector>, Vec<Case>)> {
    let mut out = Vec::new();
    let mut cases = Vec::new();
    let mut seen = BTreeSet::new();
    for (file, text) in files {
        let doc: Value = serde_json::from_str(&text).with_context(|| format!("parsing {file}"))?;
        let group = doc["group"].as_str().with_context(|| format!("{file}: a vector file needs `group`"))?;
        if let Some(list) = doc.get("cases") {
            let op = match doc["op"].as_str() {
                Some("send") => CaseOp::Send,
                Some("fetch") => CaseOp::Fetch,
                Some("typed") => CaseOp::Typed,
                Some("start") => CaseOp::Start,
                Some("allow_host") => CaseOp::AllowHost,
                Some("reply_error") => CaseOp::ReplyError,
                Some("decode_reply") => CaseOp::DecodeReply,
                Some("connect_settings") => CaseOp::ConnectSettings,
                other => bail!(
                    "{file}: a case file's `op` is send, fetch, typed, start, allow_host, reply_error, decode_reply or connect_settings, not {other:?}"
                ),
            };
            for c in list.as_array().with_context(|| format!("{file}: `cases` must be an array"))? {
                let id = c["id"].as_str().with_context(|| format!("{file}: a case needs `id`"))?.to_owned();
                if !seen.insert(id.clone()) {
                    bail!("duplicate vector id {id}");
                }
                let needs: &[&str] = match op {
                    CaseOp::Send => &["description", "send", "expect"],
                    CaseOp::Fetch => &["description", "script", "options", "expect"],
                    CaseOp::Typed => &["description", "spec", "message", "value", "direction", "expect"],
                    CaseOp::Start | CaseOp::AllowHost => &["description", "value", "expect"],
                    CaseOp::ReplyError => &["description", "request", "error", "expect"],
                    CaseOp::DecodeReply => &["description", "reply", "expect"],
                    CaseOp::ConnectSettings => &["description", "flags", "env", "files", "expect"],
                };
                for key in needs {
                    if c.get(*key).is_none() {
                        bail!("case {id} has no `{key}`");
                    }
                }
                cases.push(Case { id, group: group.to_owned(), op, body: c.clone() });
            }
            continue;
        }
        let vectors =
            doc["vectors"].as_array().with_context(|| format!("{file}: a vector file needs `vectors`"))?;
        for v in vectors {
            let id = v["id"].as_str().with_context(|| format!("{file}: a vector needs `id`"))?.to_owned();
            if !seen.insert(id.clone()) {
                bail!("duplicate vector id {id}");
            }
            let decode_only = v.get("decode_only") == Some(&Value::Bool(true));
            let keys: &[&str] = if decode_only {
                &["description", "decode"]
            } else {
                &["description", "valid", "reader", "decode"]
            };
            for key in keys {
                if v.get(*key).is_none() {
                    bail!("vector {id} has no `{key}`");
                }
            }
            if v["valid"] == false && v.get("rule").is_none() {
                bail!("invalid vector {id} does not name the rule it breaks");
            }
            let (text, bytes) = match (v.get("envelope_base64"), v.get("envelope_text"), v.get("envelope")) {
                (Some(Value::String(b)), _, _) if decode_only => {
                    let bytes = base64_simd::STANDARD
                        .decode_to_vec(b)
                        .with_context(|| format!("vector {id}: `envelope_base64` is not base64"))?;
                    (String::from_utf8_lossy(&bytes).into_owned(), Some(bytes))
                }
                (Some(_), _, _) => bail!("vector {id}: `envelope_base64` needs `decode_only`"),
                (_, Some(Value::String(t)), _) => (t.clone(), decode_only.then(|| t.as_bytes().to_vec())),
                (_, _, Some(e)) => {
                    let t = serde_json::to_string(e)?;
                    let bytes = decode_only.then(|| t.as_bytes().to_vec());
                    (t, bytes)
                }
                _ => bail!("vector {id} has neither `envelope`, `envelope_text` nor `envelope_base64`"),
            };
            out.push(Vector { id, group: group.to_owned(), text, bytes, expect: v.clone() });
        }
    }
    Ok((out, cases))
}

/// The payload types the schema knows (`PayloadType` of `schema/common_v1.schema.json`,
/// embedded).
pub fn known_payload_types() -> BTreeSet<String> {
    let common: Value = serde_json::from_str(embedded::COMMON_SCHEMA).expect("the embedded schema is JSON");
    common["definitions"]["PayloadType"]["enum"]
        .as_array()
        .expect("the schema's PayloadType enum")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The `payload_type`s an envelope text names (none when it is not JSON).
pub(crate) fn payload_types_in(text: &str) -> Vec<String> {
    let Ok(envelope) = serde_json::from_str::<Value>(text) else { return Vec::new() };
    envelope["payloads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["payload_type"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded vectors and the ones read from the checkout are the same.
    #[test]
    fn embedded_and_on_disk_load_the_same() {
        let embedded = Vectors::embedded().unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/v1");
        let disk = Vectors::from_dir(&dir).unwrap();
        assert!(embedded.vectors.len() > 100);
        let ids = |v: &Vectors| v.vectors.iter().map(|v| (v.id.clone(), v.text.clone())).collect::<Vec<_>>();
        assert_eq!(ids(&embedded), ids(&disk));
        assert_eq!(embedded.blobs, disk.blobs);
        let cases = |v: &Vectors| v.cases.iter().map(|c| (c.id.clone(), c.body.clone())).collect::<Vec<_>>();
        assert_eq!(cases(&embedded), cases(&disk));
        assert!(embedded.cases.len() > 60);
        assert_eq!(embedded.groups().len(), 16);
        assert!(known_payload_types().contains("arrowtable"));
    }
}
