//! A team's AsyncAPI 3.0 document, turned into typed operations in every language.
//!
//! [`Spec::load`] reads the document (and any `*.schema.json` files its payloads refer to)
//! into one language-neutral description: the payload and header types (a [`Model`], the
//! same one the contract's types come from), the channels with their parameters, the
//! messages with their envelope mapping, and the operations with what each one does on the
//! wire ([`OpKind`]). [`generate`] renders one package per language from it.
//!
//! The wire mapping (written up in `docs/codegen.md`): one message is one `msg_envelope_v1`
//! carrying one payload whose `dataname` is the message's `name`; its payload type is
//! the message's `x-natsbridge-payload-type`, by default `dictionary` for an object schema;
//! the headers the message declares travel as NATS headers; subjects are the channel
//! address with its parameters filled in.

mod julia;
mod python;
mod rust;
mod typescript;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, format_err};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::model::Model;
use crate::names::{camel, pascal, snake};
use crate::{GeneratedFile, Rustfmt};

/// A team's spec, read and checked.
#[derive(Debug)]
pub struct Spec {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// `info.description`, trimmed.
    pub description: String,
    /// `info.license.name`, when given.
    pub license: Option<String>,
    /// `info.x-natsbridge-packages`: package name per language (`rust`, `typescript`,
    /// `python`, `julia`).
    pub package_names: BTreeMap<String, String>,
    /// The file the spec was read from, as given (for the do-not-edit line).
    pub source: String,
    /// SHA-256 over the document and the schema files it refers to.
    pub hash: String,
    /// The named payload and header types.
    pub types: Model,
    /// Messages by component key, in document order.
    pub messages: Vec<Message>,
    /// Channels that have an address, in document order.
    pub channels: Vec<Channel>,
    /// Operations, in document order.
    pub operations: Vec<Operation>,
}

/// One message: what travels in the envelope and in the headers.
#[derive(Debug, Clone)]
pub struct Message {
    /// The key under `components/messages` (or the channel's message key).
    pub key: String,
    /// The payload's `dataname` in the envelope: the message's `name`, else its key.
    pub name: String,
    /// `title`, `summary` or `description`, first non-empty.
    pub doc: String,
    /// How the application data travels.
    pub body: Body,
    /// Headers the message declares, in schema order.
    pub headers: Vec<Header>,
    /// The generated type name for the whole message when it is not a plain JSON value
    /// (headers, bytes, tables): PascalCase of the key, with `Message` appended when a
    /// payload type already has that name.
    pub type_name: String,
}

impl Message {
    /// The payload type, when the message is nothing but a JSON value of it (no declared
    /// headers): every language then uses that type itself for the message, and
    /// [`Message::type_name`] only for the others.
    pub fn plain_json(&self) -> Option<&str> {
        match &self.body {
            Body::Json { type_name, .. } if self.headers.is_empty() => Some(type_name),
            _ => None,
        }
    }
}

/// The application data of a message and the envelope payload type that carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A JSON value of a named schema type, as `dictionary` (objects) or `jsontable`
    /// (arrays of objects).
    Json {
        /// The named type (a struct of [`Spec::types`]).
        type_name: String,
        /// `dictionary` or `jsontable`.
        payload_type: String,
    },
    /// An Arrow table (`arrowtable`).
    Table,
    /// Text (`text`).
    Text,
    /// Bytes: `binary`, `audio`, `image` or `video`.
    Bytes {
        /// The envelope payload type.
        payload_type: String,
    },
}

impl Body {
    /// The envelope's `payload_type` for this body.
    pub fn payload_type(&self) -> &str {
        match self {
            Body::Json { payload_type, .. } | Body::Bytes { payload_type } => payload_type,
            Body::Table => "arrowtable",
            Body::Text => "text",
        }
    }
}

/// One declared header: a NATS header carrying a scalar.
#[derive(Debug, Clone)]
pub struct Header {
    /// The header name on the wire, e.g. `Sample-Rate`.
    pub name: String,
    /// A field name for it: snake_case of the name (`sample_rate`).
    pub field: String,
    /// The value's type.
    pub ty: Scalar,
    /// Present on every message.
    pub required: bool,
    /// The schema's description.
    pub doc: String,
}

/// A header value's type; on the wire every header is text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// Any text.
    String,
    /// A decimal integer; `unsigned` when the schema's `minimum` is 0 or more.
    Integer {
        /// `minimum >= 0`.
        unsigned: bool,
    },
    /// A decimal number.
    Number,
    /// `true` or `false`.
    Boolean,
}

/// A channel with an address: a subject template and its parameters.
#[derive(Debug, Clone)]
pub struct Channel {
    /// The key under `channels`.
    pub key: String,
    /// The address, e.g. `sim.{service}.command`.
    pub address: String,
    /// Parameters in the order they appear in the address.
    pub params: Vec<Param>,
    /// `title` / `description`.
    pub doc: String,
    /// `x-natsbridge-jetstream.stream`: the channel's messages are kept in this stream.
    pub stream: Option<String>,
}

impl Channel {
    /// The address split into literal text and parameter names, in order.
    pub fn segments(&self) -> Vec<Segment<'_>> {
        let mut out = Vec::new();
        let mut rest = self.address.as_str();
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map(|c| open + c).expect("checked when loading");
            if open > 0 {
                out.push(Segment::Literal(&rest[..open]));
            }
            out.push(Segment::Param(&rest[open + 1..close]));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            out.push(Segment::Literal(rest));
        }
        out
    }

    /// The subject with every parameter as a NATS wildcard `*` (for stream subjects).
    pub fn wildcard(&self) -> String {
        self.segments()
            .iter()
            .map(|s| match s {
                Segment::Literal(t) => *t,
                Segment::Param(_) => "*",
            })
            .collect()
    }
}

/// Part of a channel address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Text as is.
    Literal(&'a str),
    /// A parameter's name.
    Param(&'a str),
}

/// A channel parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// The name in the address.
    pub name: String,
    /// Its snake_case form for code.
    pub field: String,
    /// Its description.
    pub doc: String,
}

/// What an operation does on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `send` without reply: core NATS publish.
    Publish,
    /// `send` with `reply`: request, wait for the typed reply.
    Request,
    /// `send` on a JetStream channel: acknowledged publish into the stream.
    StreamPublish,
    /// `receive` without reply: subscribe, yielding typed messages.
    Subscribe,
    /// `receive` with `reply`: subscribe, each message can be answered with the typed reply.
    Serve,
    /// `receive` on a JetStream channel: replay with a pull consumer.
    StreamConsume,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The key under `operations`, e.g. `sendCommand`.
    pub key: String,
    /// Its snake_case form (`send_command`).
    pub snake: String,
    /// Its camelCase form (`sendCommand`).
    pub camel: String,
    /// `summary`, `title` or `description`.
    pub doc: String,
    /// What it does on the wire.
    pub kind: OpKind,
    /// The channel key.
    pub channel: String,
    /// The message key.
    pub message: String,
    /// The reply message key, for [`OpKind::Request`] and [`OpKind::Serve`].
    pub reply: Option<String>,
    /// The NATS binding's `queue`, for receive operations.
    pub queue: Option<String>,
    /// The envelope's `msg_purpose`: `x-natsbridge-purpose`, else `command` for requests,
    /// `event` otherwise.
    pub purpose: String,
}

impl Spec {
    /// Reads `path`: an `asyncapi.yaml` (or `.yml`, `.json`) file, or a directory holding
    /// one. Payloads may refer to `#/components/schemas/Name` or to `*.schema.json` files
    /// next to the document.
    pub fn load(path: &Path) -> Result<Spec> {
        let file = if path.is_dir() {
            ["asyncapi.yaml", "asyncapi.yml", "asyncapi.json"]
                .iter()
                .map(|n| path.join(n))
                .find(|p| p.exists())
                .ok_or_else(|| format_err!("no asyncapi.yaml in {}", path.display()))?
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("asyncapi.yaml").to_owned();
        Spec::parse(&name, &text, &dir)
    }

    /// Parses a document whose relative `$ref`s resolve in `dir`.
    pub fn parse(source: &str, text: &str, dir: &Path) -> Result<Spec> {
        let doc: Value = serde_norway::from_str(text).with_context(|| format!("parsing {source}"))?;
        match doc.get("asyncapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.") => {}
            other => bail!("{source}: `asyncapi` must be 3.x, found {other:?}"),
        }
        let mut hasher = Sha256::new();
        hasher.update(text.as_bytes());
        let info = doc.get("info").ok_or_else(|| format_err!("{source}: no `info`"))?;
        let title = str_at(info, "title").ok_or_else(|| format_err!("{source}: no `info.title`"))?;
        let version = str_at(info, "version").ok_or_else(|| format_err!("{source}: no `info.version`"))?;
        let package_names = info
            .get("x-natsbridge-packages")
            .and_then(Value::as_object)
            .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default();

        let mut loader =
            Loader { doc: &doc, dir: dir.to_path_buf(), files: BTreeMap::new(), definitions: Map::new() };
        // Every component schema is a named type.
        if let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object) {
            for (name, schema) in schemas {
                loader.definitions.insert(name.clone(), schema.clone());
            }
        }
        let mut messages = Vec::new();
        let mut header_types = Vec::new();
        let component_messages = doc.pointer("/components/messages").and_then(Value::as_object);
        for (key, m) in component_messages.into_iter().flatten() {
            let m = loader.resolve(m).with_context(|| format!("message `{key}`"))?;
            let message = loader.message(key, &m).with_context(|| format!("message `{key}`"))?;
            if let Some(h) = m.get("headers").and_then(|h| h.get("$ref")).and_then(Value::as_str) {
                header_types.push(h.rsplit('/').next().unwrap_or_default().to_owned());
            }
            messages.push(message);
        }

        let mut channels = Vec::new();
        let mut channel_messages: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (key, c) in doc.get("channels").and_then(Value::as_object).into_iter().flatten() {
            let mut by_key = BTreeMap::new();
            for (mkey, m) in c.get("messages").and_then(Value::as_object).into_iter().flatten() {
                let target = m
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/messages/"))
                    .ok_or_else(|| {
                        format_err!("channel `{key}` message `{mkey}`: refer to `#/components/messages/Name`")
                    })?;
                if !messages.iter().any(|m: &Message| m.key == target) {
                    bail!("channel `{key}` message `{mkey}`: no message `{target}` under components");
                }
                by_key.insert(mkey.clone(), target.to_owned());
            }
            channel_messages.insert(key.clone(), by_key);
            let Some(address) = c.get("address").and_then(Value::as_str) else { continue };
            channels.push(channel(key, address, c).with_context(|| format!("channel `{key}`"))?);
        }

        let mut operations = Vec::new();
        for (key, op) in doc.get("operations").and_then(Value::as_object).into_iter().flatten() {
            operations.push(
                operation(key, op, &channels, &channel_messages)
                    .with_context(|| format!("operation `{key}`"))?,
            );
        }

        // Header schemas become header fields, not payload types.
        for h in &header_types {
            let used_elsewhere =
                messages.iter().any(|m| matches!(&m.body, Body::Json { type_name, .. } if type_name == h));
            if !used_elsewhere {
                loader.definitions.remove(h);
            }
        }
        for (name, text) in &loader.files {
            hasher.update(name.as_bytes());
            hasher.update(text.as_bytes());
        }
        let hash = hex::encode(hasher.finalize());
        let mut defs = Value::Object(std::mem::take(&mut loader.definitions));
        rewrite_component_refs(&mut defs);
        let bundle = serde_json::json!({ "definitions": defs });
        let mut files = BTreeMap::new();
        files.insert("asyncapi.schema.json".to_owned(), bundle.to_string());
        let mut types = Model::from_files(&files).context("payload schemas")?;
        for m in &mut messages {
            if m.plain_json().is_none() && types.kinds().any(|k| pascal(k.name()) == m.type_name) {
                m.type_name.push_str("Message");
            }
        }
        // The validators derive their reader schema's id from this one (`.json` → `.reader.json`).
        let id = format!(
            "https://natsbridge.dev/codegen/{}/{version}/bundle.json",
            snake(&title).replace('_', "-")
        );
        types.relabel(format!("`natsbridge codegen` from {source}"), hash.clone(), id);
        Ok(Spec {
            title,
            version,
            description: str_at(info, "description").unwrap_or_default().trim().to_owned(),
            license: info.pointer("/license/name").and_then(Value::as_str).map(str::to_owned),
            package_names,
            source: source.to_owned(),
            hash,
            types,
            messages,
            channels,
            operations,
        })
    }

    /// The message with component key `key`.
    pub fn message(&self, key: &str) -> &Message {
        self.messages.iter().find(|m| m.key == key).expect("checked when loading")
    }

    /// The channel with key `key`.
    pub fn channel(&self, key: &str) -> &Channel {
        self.channels.iter().find(|c| c.key == key).expect("checked when loading")
    }

    /// The messages some operation sends, receives or replies with, in document order.
    pub fn used_messages(&self) -> Vec<&Message> {
        self.messages
            .iter()
            .filter(|m| {
                self.operations.iter().any(|o| o.message == m.key || o.reply.as_deref() == Some(&m.key))
            })
            .collect()
    }
}

fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn doc_of(v: &Value) -> String {
    ["title", "summary", "description"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).filter(|s| !s.trim().is_empty()))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

struct Loader<'a> {
    doc: &'a Value,
    dir: PathBuf,
    /// External schema files read, by name.
    files: BTreeMap<String, String>,
    definitions: Map<String, Value>,
}

impl Loader<'_> {
    /// `value`, or what its `$ref` (inside the document) points at.
    fn resolve(&self, value: &Value) -> Result<Value> {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with("#/") => {
                self.doc.pointer(&r[1..]).cloned().ok_or_else(|| format_err!("`$ref` {r} points at nothing"))
            }
            _ => Ok(value.clone()),
        }
    }

    /// The named type a payload schema is: a component schema, an external file's root
    /// type, or an inline object named `<Key>Payload`.
    fn payload_type(&mut self, key: &str, schema: &Value) -> Result<String> {
        let schema = schema.get("schema").filter(|_| schema.get("schemaFormat").is_some()).unwrap_or(schema);
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            if let Some(name) = r.strip_prefix("#/components/schemas/") {
                if !self.definitions.contains_key(name) {
                    bail!("payload `$ref` {r}: no such schema");
                }
                return Ok(name.to_owned());
            }
            if r.starts_with('#') {
                bail!("payload `$ref` {r}: refer to `#/components/schemas/Name` or a `*.schema.json` file");
            }
            let path = self.dir.join(r);
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let value: Value = serde_json::from_str(&text).with_context(|| format!("parsing {r}"))?;
            let title = value
                .get("title")
                .and_then(Value::as_str)
                .ok_or_else(|| format_err!("{r}: a payload schema file needs a `title` (its type name)"))?
                .to_owned();
            if let Some(defs) = value.get("definitions").and_then(Value::as_object) {
                for (name, def) in defs {
                    self.definitions.insert(name.clone(), def.clone());
                }
            }
            let mut root = value.clone();
            if let Some(o) = root.as_object_mut() {
                for k in ["$schema", "$id", "definitions"] {
                    o.remove(k);
                }
            }
            self.definitions.insert(title.clone(), root);
            self.files.insert(r.to_owned(), text);
            return Ok(title);
        }
        let name = format!("{}Payload", pascal(key));
        self.definitions.insert(name.clone(), schema.clone());
        Ok(name)
    }

    fn message(&mut self, key: &str, m: &Value) -> Result<Message> {
        let declared = m.get("x-natsbridge-payload-type").and_then(Value::as_str);
        let body = match (declared, m.get("payload")) {
            (Some("arrowtable"), _) => Body::Table,
            (Some("text"), _) => Body::Text,
            (Some(t @ ("binary" | "audio" | "image" | "video")), _) => {
                Body::Bytes { payload_type: t.to_owned() }
            }
            (None | Some("dictionary" | "jsontable"), Some(payload)) => {
                let type_name = self.payload_type(key, payload)?;
                let schema = &self.definitions[&type_name];
                let payload_type = match (declared, schema.get("type").and_then(Value::as_str)) {
                    (Some(t), _) => t.to_owned(),
                    (None, Some("array")) => "jsontable".to_owned(),
                    (None, Some("object")) => "dictionary".to_owned(),
                    (None, other) => bail!(
                        "payload type {other:?}: use an object schema or set `x-natsbridge-payload-type`"
                    ),
                };
                if payload_type == "jsontable" {
                    bail!("`jsontable` payloads are not generated yet: use `dictionary` with an array field");
                }
                Body::Json { type_name, payload_type }
            }
            (None | Some("dictionary" | "jsontable"), None) => {
                bail!("no `payload`: give a schema or set `x-natsbridge-payload-type`")
            }
            (Some(other), _) => bail!(
                "unknown `x-natsbridge-payload-type` `{other}` (dictionary, arrowtable, text, binary, audio, image, video)"
            ),
        };
        let headers = match m.get("headers") {
            None => Vec::new(),
            Some(h) => {
                let h = match h.get("$ref").and_then(Value::as_str) {
                    Some(r) => {
                        let name = r.strip_prefix("#/components/schemas/").ok_or_else(|| {
                            format_err!("headers `$ref` {r}: refer to `#/components/schemas/Name`")
                        })?;
                        self.definitions
                            .get(name)
                            .cloned()
                            .ok_or_else(|| format_err!("no schema `{name}`"))?
                    }
                    None => h.clone(),
                };
                headers(&h).context("headers")?
            }
        };
        Ok(Message {
            key: key.to_owned(),
            name: str_at(m, "name").unwrap_or_else(|| key.to_owned()),
            doc: doc_of(m),
            body,
            headers,
            type_name: pascal(key),
        })
    }
}

fn headers(schema: &Value) -> Result<Vec<Header>> {
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| format_err!("a headers schema is an object with `properties`"))?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (name, p) in props {
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            bail!("header `{name}`: use letters, digits, `-` and `_`");
        }
        let ty = match p.get("type").and_then(Value::as_str) {
            Some("string") => Scalar::String,
            Some("integer") => Scalar::Integer {
                unsigned: p.get("minimum").and_then(Value::as_f64).is_some_and(|m| m >= 0.0),
            },
            Some("number") => Scalar::Number,
            Some("boolean") => Scalar::Boolean,
            other => bail!("header `{name}`: type {other:?}; headers are string, integer, number or boolean"),
        };
        out.push(Header {
            name: name.clone(),
            field: snake(name),
            ty,
            required: required.contains(&name.as_str()),
            doc: p.get("description").and_then(Value::as_str).unwrap_or_default().trim().to_owned(),
        });
    }
    Ok(out)
}

fn channel(key: &str, address: &str, c: &Value) -> Result<Channel> {
    let mut params = Vec::new();
    let mut rest = address;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format_err!("unclosed `{{` in address"))?;
        let name = &rest[open + 1..close];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            bail!("parameter `{{{name}}}`: use letters, digits and `_`");
        }
        if params.iter().any(|p: &Param| p.name == name) {
            bail!("parameter `{name}` appears twice");
        }
        let doc = c
            .pointer(&format!("/parameters/{name}/description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned();
        params.push(Param { name: name.to_owned(), field: snake(name), doc });
        rest = &rest[close + 1..];
    }
    for declared in c.get("parameters").and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k) {
        if !params.iter().any(|p| &p.name == declared) {
            bail!("parameter `{declared}` is declared but not in the address `{address}`");
        }
    }
    if address.is_empty() || address.contains(char::is_whitespace) {
        bail!("address `{address}` is not a NATS subject");
    }
    Ok(Channel {
        key: key.to_owned(),
        address: address.to_owned(),
        params,
        doc: doc_of(c),
        stream: c.pointer("/x-natsbridge-jetstream/stream").and_then(Value::as_str).map(str::to_owned),
    })
}

fn operation(
    key: &str,
    op: &Value,
    channels: &[Channel],
    channel_messages: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Operation> {
    let channel_key = |v: &Value| -> Result<String> {
        v.get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/channels/"))
            .map(str::to_owned)
            .ok_or_else(|| format_err!("`channel` must be `$ref: '#/channels/name'`"))
    };
    let one_message = |list: Option<&Value>, channel: &str| -> Result<String> {
        let list = list.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let refs: Vec<&str> = list.iter().filter_map(|m| m.get("$ref").and_then(Value::as_str)).collect();
        let r = match refs.as_slice() {
            [one] => *one,
            [] => {
                // No list: the channel's only message.
                let all =
                    channel_messages.get(channel).map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default();
                return match all.as_slice() {
                    [one] => Ok((*one).clone()),
                    _ => bail!("name exactly one message (channel `{channel}` has {})", all.len()),
                };
            }
            _ => {
                bail!("one message per operation is generated; split `{key}` into one operation per message")
            }
        };
        let (c, m) =
            r.strip_prefix("#/channels/").and_then(|rest| rest.split_once("/messages/")).ok_or_else(
                || format_err!("message `$ref` {r}: refer to `#/channels/<channel>/messages/<name>`"),
            )?;
        if c != channel {
            bail!("message {r} is not a message of channel `{channel}`");
        }
        channel_messages
            .get(c)
            .and_then(|ms| ms.get(m))
            .cloned()
            .ok_or_else(|| format_err!("message `$ref` {r} points at nothing"))
    };
    let channel = channel_key(op.get("channel").ok_or_else(|| format_err!("no `channel`"))?)?;
    let ch = channels
        .iter()
        .find(|c| c.key == channel)
        .ok_or_else(|| format_err!("channel `{channel}` has no address (or does not exist)"))?;
    let message = one_message(op.get("messages"), &channel)?;
    let reply = match op.get("reply") {
        None => None,
        Some(r) => {
            let rc = channel_key(r.get("channel").ok_or_else(|| format_err!("`reply` without `channel`"))?)?;
            Some(one_message(r.get("messages"), &rc)?)
        }
    };
    let action = op.get("action").and_then(Value::as_str);
    let kind = match (action, reply.is_some(), ch.stream.is_some()) {
        (Some("send"), true, false) => OpKind::Request,
        (Some("receive"), true, false) => OpKind::Serve,
        (Some(_), true, true) => bail!("a JetStream channel has no request/reply"),
        (Some("send"), false, true) => OpKind::StreamPublish,
        (Some("receive"), false, true) => OpKind::StreamConsume,
        (Some("send"), false, false) => OpKind::Publish,
        (Some("receive"), false, false) => OpKind::Subscribe,
        (other, ..) => bail!("`action` must be `send` or `receive`, found {other:?}"),
    };
    let purpose =
        op.get("x-natsbridge-purpose").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
            if kind == OpKind::Request || kind == OpKind::Serve { "command" } else { "event" }.to_owned()
        });
    Ok(Operation {
        key: key.to_owned(),
        snake: snake(key),
        camel: camel(key),
        doc: doc_of(op),
        kind,
        channel,
        message,
        reply,
        queue: op.pointer("/bindings/nats/queue").and_then(Value::as_str).map(str::to_owned),
        purpose,
    })
}

fn rewrite_component_refs(value: &mut Value) {
    match value {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                *r = format!("#/definitions/{name}");
            }
            o.values_mut().for_each(rewrite_component_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_component_refs),
        _ => {}
    }
}

/// Languages `natsbridge codegen` writes.
pub const LANGUAGES: &[&str] = &["rust", "typescript", "python", "julia"];

/// Names, versions and where the runtimes come from, per output.
#[derive(Debug, Clone)]
pub struct Options {
    /// Languages to write (of [`LANGUAGES`]).
    pub languages: Vec<String>,
    /// The package version (default `info.version`).
    pub version: String,
    /// Package names by language (default: `info.x-natsbridge-packages`, else derived from
    /// `info.title`).
    pub names: BTreeMap<String, String>,
    /// How the Rust crate depends on the runtime: the right-hand side of
    /// `natsbridge = ...` in Cargo.toml.
    pub rust_runtime: String,
    /// How the TypeScript package depends on the runtime: the version or `file:` spec of
    /// `@natsbridge/client`.
    pub typescript_runtime: String,
    /// The Python requirement on the runtime (PEP 508).
    pub python_runtime: String,
}

impl Options {
    /// Defaults from the spec: every language, `info.version`, the declared or derived
    /// package names, the runtimes from their registries.
    pub fn from_spec(spec: &Spec) -> Options {
        let base = snake(&spec.title).replace('_', "-");
        let mut names = BTreeMap::new();
        for (lang, default) in [
            ("rust", format!("{base}-api")),
            ("typescript", format!("{base}-api")),
            ("python", format!("{base}-api")),
            ("julia", format!("{}Api", pascal(&spec.title))),
        ] {
            names.insert(lang.to_owned(), spec.package_names.get(lang).cloned().unwrap_or(default));
        }
        Options {
            languages: LANGUAGES.iter().map(|s| (*s).to_owned()).collect(),
            version: spec.version.clone(),
            names,
            rust_runtime: format!("\"{}\"", RUNTIME_VERSION),
            typescript_runtime: RUNTIME_VERSION.to_owned(),
            python_runtime: format!("natsbridge>={RUNTIME_VERSION}"),
        }
    }

    /// Depend on the runtimes of a NATSBridge checkout at `root` (path dependencies),
    /// written relative to the output directory `out` when both are relative.
    pub fn runtimes_from_checkout(mut self, root: &str) -> Options {
        let root = root.trim_end_matches('/');
        self.rust_runtime = format!("{{ path = \"{root}/crates/natsbridge\" }}");
        self.typescript_runtime = format!("file:{root}/packages/typescript");
        self.python_runtime = "natsbridge".to_owned();
        self
    }

    pub(crate) fn name(&self, lang: &str) -> &str {
        &self.names[lang]
    }
}

/// The runtime version the generated packages ask for.
pub const RUNTIME_VERSION: &str = "0.1.0";

/// Every file of every chosen language, sorted by path: `rust/`, `typescript/`, `python/`,
/// `julia/` under the output root.
pub fn generate(spec: &Spec, options: &Options, rustfmt: &Rustfmt) -> Result<Vec<GeneratedFile>> {
    for lang in &options.languages {
        if !LANGUAGES.contains(&lang.as_str()) {
            bail!("unknown language `{lang}` (one of {})", LANGUAGES.join(", "));
        }
    }
    let mut files = Vec::new();
    let wants = |l: &str| options.languages.iter().any(|x| x == l);
    if wants("rust") {
        files.extend(rust::generate(spec, options, rustfmt, "rust").context("rust")?);
    }
    if wants("typescript") {
        files.extend(typescript::generate(spec, options, "typescript").context("typescript")?);
    }
    if wants("python") {
        files.extend(python::generate(spec, options, "python").context("python")?);
    }
    if wants("julia") {
        files.extend(julia::generate(spec, options, "julia").context("julia")?);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
asyncapi: 3.0.0
info: {title: Weather Station, version: 0.3.0}
channels:
  readings:
    address: 'weather.{site}.{sensor}.readings'
    parameters: {site: {description: Where}, sensor: {}}
    messages: {reading: {$ref: '#/components/messages/Reading'}}
  alerts:
    address: weather.alerts
    messages: {alert: {$ref: '#/components/messages/Alert'}}
operations:
  publishReading: {action: send, channel: {$ref: '#/channels/readings'}}
  watchAlerts:
    action: receive
    channel: {$ref: '#/channels/alerts'}
    messages: [{$ref: '#/channels/alerts/messages/alert'}]
components:
  messages:
    Reading:
      payload: {$ref: './reading.schema.json'}
    Alert:
      name: alert
      payload:
        type: object
        required: [level]
        properties: {level: {type: string}}
"#;

    const READING: &str = r##"{"title": "Reading", "type": "object", "required": ["value"],
        "properties": {"value": {"type": "number"}, "unit": {"$ref": "#/definitions/Unit"}},
        "definitions": {"Unit": {"type": "string", "enum": ["C", "F"]}}}"##;

    /// Parses `text` beside `reading.schema.json`, in a directory of its own.
    fn parse(text: &str, case: &str) -> Result<Spec> {
        let dir = std::env::temp_dir().join(format!("natsbridge-codegen-api-{case}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("reading.schema.json"), READING).unwrap();
        let spec = Spec::parse("asyncapi.yaml", text, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        spec
    }

    fn spec() -> Spec {
        parse(SPEC, &format!("{:?}", std::thread::current().id()).replace(['(', ')'], "")).unwrap()
    }

    #[test]
    fn external_inline_and_component_payloads_and_channels_without_parameters() {
        let spec = spec();
        let reading = spec.message("Reading");
        assert_eq!(reading.name, "Reading", "no `name`: the key");
        assert_eq!(
            reading.body,
            Body::Json { type_name: "Reading".into(), payload_type: "dictionary".into() }
        );
        let alert = spec.message("Alert");
        assert_eq!(
            alert.body,
            Body::Json { type_name: "AlertPayload".into(), payload_type: "dictionary".into() }
        );
        let names: Vec<String> = spec.types.kinds().map(|k| k.name().to_owned()).collect();
        assert_eq!(names, ["AlertPayload", "Reading", "Unit"]);

        let readings = spec.channel("readings");
        assert_eq!(readings.wildcard(), "weather.*.*.readings");
        assert_eq!(
            readings.segments(),
            [
                Segment::Literal("weather."),
                Segment::Param("site"),
                Segment::Literal("."),
                Segment::Param("sensor"),
                Segment::Literal(".readings")
            ]
        );
        assert!(spec.channel("alerts").params.is_empty());
        let kinds: Vec<(&str, OpKind)> = spec.operations.iter().map(|o| (o.key.as_str(), o.kind)).collect();
        assert_eq!(kinds, [("publishReading", OpKind::Publish), ("watchAlerts", OpKind::Subscribe)]);
        let options = Options::from_spec(&spec);
        assert_eq!(options.names["rust"], "weather-station-api");
        assert_eq!(options.names["julia"], "WeatherStationApi");
        assert_eq!(options.version, "0.3.0");
    }

    #[test]
    fn every_language_generates_and_output_is_deterministic() {
        let spec = spec();
        let options = Options::from_spec(&spec);
        let a = generate(&spec, &options, &Rustfmt::default()).unwrap();
        let b = generate(&spec, &options, &Rustfmt::default()).unwrap();
        assert_eq!(a, b);
        for lang in LANGUAGES {
            assert!(a.iter().any(|f| f.path.starts_with(&format!("{lang}/"))), "{lang}");
        }
        let ops = a.iter().find(|f| f.path == "rust/src/operations.rs").unwrap();
        assert!(ops.contents.contains("pub async fn publish_reading("), "{}", ops.contents);
        assert!(ops.contents.contains("site: &str"), "{}", ops.contents);
    }

    #[test]
    fn operations_the_generator_cannot_express_are_errors() {
        let two = SPEC.replace(
            "messages: [{$ref: '#/channels/alerts/messages/alert'}]",
            "messages: [{$ref: '#/channels/alerts/messages/alert'}, {$ref: '#/channels/alerts/messages/alert'}]",
        );
        let err = parse(&two, "two").unwrap_err();
        assert!(format!("{err:#}").contains("one message per operation"), "{err:#}");
        let bad_param = SPEC.replace(
            "parameters: {site: {description: Where}, sensor: {}}",
            "parameters: {site: {}, sensor: {}, floor: {}}",
        );
        let err = parse(&bad_param, "param").unwrap_err();
        assert!(format!("{err:#}").contains("`floor` is declared but not in the address"), "{err:#}");
    }
}
