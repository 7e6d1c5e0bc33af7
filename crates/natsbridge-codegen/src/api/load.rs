//! Reading an AsyncAPI 3.0 document into a [`Spec`]: `$ref`s (in the document and in files
//! beside it), traits, inline and referred messages, several messages per channel or
//! operation (a union dispatched by message name), correlation ids, parameters, replies,
//! content types, and addresses as NATS subjects. What cannot be served is refused with
//! the place (a JSON pointer) and what to do instead, before anything is written.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail, format_err};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::docs::{At, Docs, refuse};
use super::schemas::{Schemas, merge_all_of};
use super::{Body, Channel, Correlation, Header, Message, OpKind, Operation, Param, Scalar, Spec};
use crate::model::{Kind, Model, ScalarRule};
use crate::names::{camel, pascal, snake};

/// How channel addresses become NATS subjects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AddressStyle {
    /// The address is a NATS subject: tokens separated by `.`; an address with `/` is
    /// refused.
    #[default]
    Nats,
    /// Addresses written for MQTT, Kafka or HTTP (`a/b/{id}`): leading and trailing `/`
    /// dropped, every other `/` becomes `.`.
    Slash,
}

/// Choices about reading a document.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// How addresses become subjects.
    pub address_style: AddressStyle,
}

/// Content types carried as text, beside `text/*`.
const TEXT_TYPES: &[&str] = &["application/xml", "application/yaml", "application/x-yaml", "application/csv"];

pub(super) fn parse(source: &str, text: &str, dir: &Path, options: &LoadOptions) -> Result<Spec> {
    let doc: Value = serde_norway::from_str(text).with_context(|| format!("parsing {source}"))?;
    match doc.get("asyncapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => {}
        Some(v) => bail!(
            "{source}: `asyncapi: {v}`: the generator reads AsyncAPI 3.x (convert a 2.x document with `asyncapi convert`)"
        ),
        None => bail!("{source}: no `asyncapi` version: is this an AsyncAPI document?"),
    }
    let info = doc
        .get("info")
        .ok_or_else(|| {
            format_err!("`/info` is missing: an AsyncAPI document has `info` with its `title` and `version`")
        })?
        .clone();
    let title = str_at(&info, "title")
        .ok_or_else(|| format_err!("`/info/title` is missing: it names the packages"))?;
    let version = str_at(&info, "version")
        .ok_or_else(|| format_err!("`/info/version` is missing: it versions the packages"))?;
    let default_content_type = str_at(&doc, "defaultContentType");
    let mut r = Reader {
        docs: Docs::new(doc, dir),
        schemas: Schemas::default(),
        messages: Vec::new(),
        message_places: BTreeMap::new(),
        default_content_type,
        header_types: Vec::new(),
    };

    // Messages: every component message, then the channels' own.
    let root = r.docs.doc().clone();
    let components = At::root("/components/messages");
    for (key, m) in root.pointer("/components/messages").and_then(Value::as_object).into_iter().flatten() {
        r.message(&components.join(key), m, key)?;
    }
    let mut channels = Vec::new();
    let mut channel_messages: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (ckey, c) in root.get("channels").and_then(Value::as_object).into_iter().flatten() {
        let at = At::root("/channels").join(ckey);
        let (cat, c) = r.docs.deref(&at, c)?;
        let mut keys = Vec::new();
        for (mkey, m) in c.get("messages").and_then(Value::as_object).into_iter().flatten() {
            let key = r.message(&cat.join("messages").join(mkey), m, mkey)?;
            keys.push((mkey.clone(), key));
        }
        channel_messages.insert(ckey.clone(), keys);
        match c.get("address") {
            None | Some(Value::Null) => {}
            Some(Value::String(address)) => {
                channels.push(channel(&mut r.docs, &cat, ckey, address, &c, options.address_style)?);
            }
            Some(other) => {
                return Err(refuse(&cat.join("address"), format!("must be a string, found `{other}`")));
            }
        }
    }

    let mut operations = Vec::new();
    let mut unions: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for (key, op) in root.get("operations").and_then(Value::as_object).into_iter().flatten() {
        let at = At::root("/operations").join(key);
        operations.push(r.operation(&at, key, op, &channels, &channel_messages, &mut unions)?);
    }

    // Header schemas become header fields, not payload types.
    for h in std::mem::take(&mut r.header_types) {
        let used =
            r.messages.iter().any(|m| matches!(&m.body, Body::Json { type_name, .. } if *type_name == h));
        if !used {
            r.schemas.defs.remove(&h);
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    for (name, text) in &r.docs.texts {
        hasher.update(name.as_bytes());
        hasher.update(text.as_bytes());
    }
    let hash = hex::encode(hasher.finalize());
    let type_places = r.schemas.places();
    let message_places = r.message_places.iter().map(|(at, key)| (key.clone(), at.uri())).collect();
    let bundle = serde_json::json!({ "definitions": Value::Object(std::mem::take(&mut r.schemas.defs)) });
    let mut files = BTreeMap::new();
    files.insert("asyncapi.schema.json".to_owned(), bundle.to_string());
    let mut types = Model::from_files(&files).map_err(|e| format_err!("payload schemas: {e:#}"))?;
    let mut messages = r.messages;
    for m in &mut messages {
        if let Body::Json { type_name, .. } = &m.body {
            m.wrapped = matches!(types.kind(type_name), Kind::Scalar(s) if matches!(s.rule, ScalarRule::Map));
        }
        if m.plain_json().is_none() && types.kinds().any(|k| pascal(k.name()) == m.type_name) {
            m.type_name.push_str("Message");
        }
    }
    // The validators derive their reader schema's id from this one (`.json` → `.reader.json`).
    let id =
        format!("https://natsbridge.dev/codegen/{}/{version}/bundle.json", snake(&title).replace('_', "-"));
    types.relabel(format!("`natsbridge codegen` from {source}"), hash.clone(), id);
    let package_names = info
        .get("x-natsbridge-packages")
        .and_then(Value::as_object)
        .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    Ok(Spec {
        title,
        version,
        description: str_at(&info, "description").unwrap_or_default().trim().to_owned(),
        license: info.pointer("/license/name").and_then(Value::as_str).and_then(spdx_id),
        package_names,
        source: source.to_owned(),
        hash,
        types,
        messages,
        channels,
        operations,
        type_places,
        message_places,
    })
}

pub(super) fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(super) fn doc_of(v: &Value) -> String {
    ["title", "summary", "description"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).filter(|s| !s.trim().is_empty()))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// `base` with `traits` applied: each trait in order, then the object's own fields, which
/// win (AsyncAPI 3.0: a trait's field is ignored where the object has it). Objects merge
/// key by key.
fn with_traits(docs: &mut Docs, at: &At, base: &Value) -> Result<Value> {
    let Some(traits) = base.get("traits") else { return Ok(base.clone()) };
    let list = traits.as_array().ok_or_else(|| refuse(&at.join("traits"), "must be a list"))?;
    let mut merged = Value::Object(Map::new());
    for (i, t) in list.iter().enumerate() {
        let (_, t) = docs.deref(&at.join("traits").join(&i.to_string()), t)?;
        merge(&mut merged, &t);
    }
    let mut own = base.clone();
    if let Some(o) = own.as_object_mut() {
        o.remove("traits");
    }
    merge(&mut merged, &own);
    Ok(merged)
}

/// `over` merged onto `into`: objects key by key, anything else replaced.
fn merge(into: &mut Value, over: &Value) {
    match (into, over) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, over) => *into = over.clone(),
    }
}

struct Reader {
    docs: Docs,
    schemas: Schemas,
    messages: Vec<Message>,
    /// Each message's key by the place it was found, so a message referred to twice is one.
    message_places: BTreeMap<At, String>,
    default_content_type: Option<String>,
    /// Named types used as headers schemas.
    header_types: Vec<String>,
}

impl Reader {
    /// The key of the message `value` found at `at` (reading it the first time); a new
    /// message is keyed `key`, or `key` with a number when that is taken.
    fn message(&mut self, at: &At, value: &Value, key: &str) -> Result<String> {
        let (place, m) = self.docs.deref(at, value)?;
        if let Some(k) = self.message_places.get(&place) {
            return Ok(k.clone());
        }
        let key =
            if place != *at && !place.last().is_empty() { place.last().to_owned() } else { key.to_owned() };
        let mut unique = key.clone();
        let mut n = 2;
        while self.messages.iter().any(|m| m.key == unique) {
            unique = format!("{key}{n}");
            n += 1;
        }
        let m = with_traits(&mut self.docs, &place, &m)?;
        let message = self.read_message(&place, &unique, &m)?;
        self.message_places.insert(place, unique.clone());
        self.messages.push(message);
        Ok(unique)
    }

    fn read_message(&mut self, at: &At, key: &str, m: &Value) -> Result<Message> {
        let declared = m.get("x-natsbridge-payload-type").and_then(Value::as_str);
        let content_type =
            m.get("contentType").and_then(Value::as_str).or(self.default_content_type.as_deref());
        let body = match declared {
            Some("arrowtable") => Body::Table,
            Some("text") => Body::Text,
            Some(t @ ("binary" | "audio" | "image" | "video")) => Body::Bytes { payload_type: t.to_owned() },
            Some("dictionary") | None => match content_type.map(media_type) {
                None => self.json_body(at, key, m)?,
                Some(ct) if ct == "application/json" || ct.ends_with("+json") => {
                    self.json_body(at, key, m)?
                }
                Some(ct)
                    if ct.starts_with("text/")
                        || TEXT_TYPES.contains(&ct.as_str())
                        || ct.ends_with("+xml") =>
                {
                    Body::Text
                }
                Some(ct) if ct == "application/vnd.apache.arrow.stream" => Body::Table,
                Some(ct) if ct == "application/octet-stream" => Body::Bytes { payload_type: "binary".into() },
                Some(ct) if ["audio/", "image/", "video/"].iter().any(|p| ct.starts_with(p)) => {
                    Body::Bytes { payload_type: ct.split('/').next().unwrap_or_default().to_owned() }
                }
                Some(ct) => {
                    return Err(refuse(
                        &at.join("contentType"),
                        format!(
                            "content type `{ct}` is not one NATSBridge carries (JSON, text, bytes, Arrow tables): \
                             set `x-natsbridge-payload-type: binary` on the message to carry it as bytes"
                        ),
                    ));
                }
            },
            Some(other) => {
                return Err(refuse(
                    &at.join("x-natsbridge-payload-type"),
                    format!(
                        "unknown payload type `{other}` (dictionary, arrowtable, text, binary, audio, image, video)"
                    ),
                ));
            }
        };
        let headers = match m.get("headers") {
            None => Vec::new(),
            Some(h) => self.headers(&at.join("headers"), h)?,
        };
        let correlation = match m.get("correlationId") {
            None => None,
            Some(c) => {
                let (cat, c) = self.docs.deref(&at.join("correlationId"), c)?;
                let location = c
                    .get("location")
                    .and_then(Value::as_str)
                    .ok_or_else(|| refuse(&cat, "a correlation id needs a `location`"))?;
                Some(correlation(&cat.join("location"), location)?)
            }
        };
        if matches!(correlation, Some(Correlation::Payload(_))) && !matches!(body, Body::Json { .. }) {
            return Err(refuse(
                &at.join("correlationId"),
                "a correlation id in the payload needs a JSON payload: use `$message.header#/Name`",
            ));
        }
        Ok(Message {
            key: key.to_owned(),
            name: str_at(m, "name").unwrap_or_else(|| key.to_owned()),
            doc: doc_of(m),
            body,
            headers,
            type_name: pascal(key),
            correlation,
            wrapped: false,
        })
    }

    /// A JSON payload: its schema as a named type, an object (or a union of objects).
    fn json_body(&mut self, at: &At, key: &str, m: &Value) -> Result<Body> {
        let pat = at.join("payload");
        let Some(payload) = m.get("payload") else {
            // No payload: an object with anything in it.
            let name = self.schemas_named(&pat, &serde_json::json!({"type": "object"}), key)?;
            return Ok(Body::Json { type_name: name, payload_type: "dictionary".into() });
        };
        let (rpat, resolved_payload) = self.docs.deref(&pat, payload)?;
        let (sat, schema) = match (resolved_payload.get("schemaFormat"), resolved_payload.get("schema")) {
            (Some(format), Some(schema)) => {
                let format = format.as_str().unwrap_or_default();
                let json_schema =
                    ["application/vnd.aai.asyncapi", "application/schema+json", "application/schema+yaml"]
                        .iter()
                        .any(|p| format.starts_with(p));
                if !json_schema {
                    let what = if format.contains("avro") {
                        "an Avro schema"
                    } else if format.contains("protobuf") {
                        "a Protocol Buffers schema"
                    } else if format.contains("openapi") {
                        "an OpenAPI schema"
                    } else if format.contains("raml") {
                        "a RAML type"
                    } else {
                        "not JSON Schema"
                    };
                    return Err(refuse(
                        &rpat.join("schemaFormat"),
                        format!(
                            "`schemaFormat: {format}` is {what}: the generator reads JSON Schema payloads \
                             (describe the payload in JSON Schema, or set `x-natsbridge-payload-type: binary` \
                             to carry the encoded bytes)"
                        ),
                    ));
                }
                (rpat.join("schema"), schema.clone())
            }
            _ => (pat.clone(), payload.clone()),
        };
        let (_, resolved) = self.docs.deref(&sat, &schema)?;
        let ty = resolved.get("type").and_then(Value::as_str);
        let structured = ["properties", "allOf", "oneOf", "anyOf"].iter().any(|k| resolved.get(*k).is_some());
        let schema = match ty {
            // A JSON string is carried as text.
            Some("string") => return Ok(Body::Text),
            Some("object") => schema,
            None if structured => schema,
            None if resolved
                .as_object()
                .is_some_and(|o| o.keys().all(|k| !k.starts_with("$") && k != "enum")) =>
            {
                // Anything goes: a free-form object.
                let mut s = resolved.clone();
                s["type"] = "object".into();
                s
            }
            Some("array") => {
                return Err(refuse(
                    &sat,
                    "an array payload is not generated (a `jsontable` needs rows of objects): make the payload an \
                     object with an array property",
                ));
            }
            other => {
                let t = other.unwrap_or("an enum");
                return Err(refuse(
                    &sat,
                    format!(
                        "a `{t}` payload: NATSBridge carries JSON documents as objects (`dictionary`): make the payload \
                         an object with a `{t}` property, or set `contentType: text/plain` to carry text"
                    ),
                ));
            }
        };
        let name = self.schemas_named(&sat, &schema, key)?;
        Ok(Body::Json { type_name: name, payload_type: "dictionary".into() })
    }

    fn schemas_named(&mut self, at: &At, schema: &Value, key: &str) -> Result<String> {
        self.schemas.named(&mut self.docs, at, schema, &format!("{}Payload", pascal(key)))
    }

    fn headers(&mut self, at: &At, h: &Value) -> Result<Vec<Header>> {
        let (hat, schema) = self.docs.deref(at, h)?;
        if hat != *at && !hat.last().is_empty() {
            self.header_types.push(hat.last().to_owned());
        }
        let schema = match schema.get("schemaFormat") {
            Some(_) => schema.get("schema").cloned().unwrap_or_default(),
            None => schema,
        };
        let schema = match (schema.get("allOf"), schema.as_object()) {
            (Some(all), Some(obj)) => merge_all_of(&mut self.docs, &hat, obj, all)?,
            _ => schema,
        };
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| refuse(&hat, "a headers schema is an object with `properties`"))?;
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        for (name, p) in props {
            let pat = hat.join("properties").join(name);
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(refuse(
                    &pat,
                    format!("header `{name}`: NATS header names use letters, digits, `-` and `_`"),
                ));
            }
            let (pat, p) = self.docs.deref(&pat, p)?;
            let ty = match p.get("type").and_then(Value::as_str) {
                Some("string") => Scalar::String,
                Some("integer") => Scalar::Integer {
                    unsigned: p.get("minimum").and_then(Value::as_f64).is_some_and(|m| m >= 0.0),
                },
                Some("number") => Scalar::Number,
                Some("boolean") => Scalar::Boolean,
                other => {
                    return Err(refuse(
                        &pat,
                        format!(
                            "header `{name}` is {}: a NATS header carries one text value, so headers are \
                             `string`, `integer`, `number` or `boolean` (move structured data into the payload)",
                            match other {
                                None => "untyped".to_owned(),
                                Some(t) if t.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an `{t}`"),
                                Some(t) => format!("a `{t}`"),
                            }
                        ),
                    ));
                }
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

    /// The message keys an operation's (or reply's) `messages` list names, or every message
    /// of `channel` without one.
    fn op_messages(
        &mut self,
        at: &At,
        list: Option<&Value>,
        channel: &str,
        channel_messages: &BTreeMap<String, Vec<(String, String)>>,
    ) -> Result<Vec<String>> {
        let all: Vec<String> = channel_messages
            .get(channel)
            .map(|m| m.iter().map(|(_, k)| k.clone()).collect())
            .unwrap_or_default();
        let Some(list) = list else { return Ok(all) };
        let items = list.as_array().ok_or_else(|| refuse(at, "must be a list of `$ref`s"))?;
        if items.is_empty() {
            return Ok(all);
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let iat = at.join(&i.to_string());
            let r = item.get("$ref").and_then(Value::as_str).ok_or_else(|| {
                refuse(
                    &iat,
                    "refer to a message of the channel: `$ref: '#/channels/<channel>/messages/<name>'`",
                )
            })?;
            let key = match r.strip_prefix("#/channels/").and_then(|rest| rest.split_once("/messages/")) {
                Some((c, m)) => channel_messages
                    .get(c)
                    .and_then(|ms| ms.iter().find(|(mk, _)| mk == m))
                    .map(|(_, k)| k.clone())
                    .ok_or_else(|| refuse(&iat, format!("`$ref: {r}` points at no message of a channel")))?,
                None => {
                    let target = self.docs.target(&iat, r)?;
                    self.message_places.get(&target).cloned().ok_or_else(|| {
                        refuse(&iat, format!("`$ref: {r}` points at no message of a channel"))
                    })?
                }
            };
            if !all.contains(&key) {
                return Err(refuse(&iat, format!("`$ref: {r}` is not a message of channel `{channel}`")));
            }
            if !out.contains(&key) {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// One message key for `keys`: the message itself, or a union of them (made once per
    /// set), named after the channel when it is all of its messages, else after `fallback`.
    fn one_or_union(
        &mut self,
        keys: Vec<String>,
        at: &At,
        channel: &str,
        fallback: &str,
        channel_messages: &BTreeMap<String, Vec<(String, String)>>,
        unions: &mut BTreeMap<Vec<String>, String>,
    ) -> Result<String> {
        match keys.len() {
            0 => Err(refuse(
                at,
                format!("channel `{channel}` has no messages: declare the message this operation carries"),
            )),
            1 => Ok(keys.into_iter().next().expect("one")),
            _ => {
                if let Some(k) = unions.get(&keys) {
                    return Ok(k.clone());
                }
                let whole = channel_messages.get(channel).is_some_and(|m| m.len() == keys.len());
                let base = if whole { format!("{}Message", pascal(channel)) } else { pascal(fallback) };
                let mut key = base.clone();
                let mut n = 2;
                while self.messages.iter().any(|m| m.key == key) {
                    key = format!("{base}{n}");
                    n += 1;
                }
                let names: Vec<String> = keys.iter().map(|k| self.message_by_key(k).name.clone()).collect();
                self.messages.push(Message {
                    key: key.clone(),
                    name: names.join(" | "),
                    doc: format!(
                        "One of the messages {}.",
                        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    ),
                    body: Body::Union { members: keys.clone() },
                    headers: Vec::new(),
                    type_name: pascal(&key),
                    correlation: None,
                    wrapped: false,
                });
                unions.insert(keys, key.clone());
                Ok(key)
            }
        }
    }

    fn message_by_key(&self, key: &str) -> &Message {
        self.messages.iter().find(|m| m.key == key).expect("keys come from the messages")
    }

    fn operation(
        &mut self,
        at: &At,
        key: &str,
        op: &Value,
        channels: &[Channel],
        channel_messages: &BTreeMap<String, Vec<(String, String)>>,
        unions: &mut BTreeMap<Vec<String>, String>,
    ) -> Result<Operation> {
        let (at, op) = self.docs.deref(at, op)?;
        let op = with_traits(&mut self.docs, &at, &op)?;
        let channel_key = |at: &At, v: Option<&Value>| -> Result<String> {
            v.and_then(|v| v.get("$ref"))
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/channels/"))
                .map(str::to_owned)
                .ok_or_else(|| refuse(at, "refer to a channel: `$ref: '#/channels/<name>'`"))
        };
        let channel = channel_key(&at.join("channel"), op.get("channel"))?;
        let ch = channels.iter().find(|c| c.key == channel).ok_or_else(|| {
            refuse(&at.join("channel"), format!("channel `{channel}` has no address (or does not exist): a sent or received message needs a subject"))
        })?;
        let keys = self.op_messages(&at.join("messages"), op.get("messages"), &channel, channel_messages)?;
        let message =
            self.one_or_union(keys, &at, &channel, &format!("{key}Message"), channel_messages, unions)?;
        let reply = match op.get("reply") {
            None => None,
            Some(r) => {
                let rat = at.join("reply");
                let (rat, r) = self.docs.deref(&rat, r)?;
                if let Some(a) = r.get("address") {
                    let (aat, a) = self.docs.deref(&rat.join("address"), a)?;
                    let location = a.get("location").and_then(Value::as_str).unwrap_or_default();
                    if !location.starts_with("$message.header#/") {
                        return Err(refuse(
                            &aat,
                            "a reply address is the request's `reply_to`: give it as `location: $message.header#/replyTo` \
                             (NATS answers on the inbox the request names)",
                        ));
                    }
                }
                let rchannel = match r.get("channel") {
                    Some(c) => channel_key(&rat.join("channel"), Some(c))?,
                    None => channel.clone(),
                };
                let keys =
                    self.op_messages(&rat.join("messages"), r.get("messages"), &rchannel, channel_messages)?;
                Some(self.one_or_union(
                    keys,
                    &rat,
                    &rchannel,
                    &format!("{key}Reply"),
                    channel_messages,
                    unions,
                )?)
            }
        };
        let kind = match (op.get("action").and_then(Value::as_str), reply.is_some(), ch.stream.is_some()) {
            (Some("send"), true, false) => OpKind::Request,
            (Some("receive"), true, false) => OpKind::Serve,
            (Some(_), true, true) => {
                return Err(refuse(&at.join("reply"), "a JetStream channel has no request/reply"));
            }
            (Some("send"), false, true) => OpKind::StreamPublish,
            (Some("receive"), false, true) => OpKind::StreamConsume,
            (Some("send"), false, false) => OpKind::Publish,
            (Some("receive"), false, false) => OpKind::Subscribe,
            (other, ..) => {
                return Err(refuse(
                    &at.join("action"),
                    format!(
                        "must be `send` or `receive`, found {}",
                        other.map_or("nothing".to_owned(), |a| format!("`{a}`"))
                    ),
                ));
            }
        };
        let purpose =
            op.get("x-natsbridge-purpose").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
                if kind == OpKind::Request || kind == OpKind::Serve { "command" } else { "event" }.to_owned()
            });
        Ok(Operation {
            key: key.to_owned(),
            snake: snake(key),
            camel: camel(key),
            doc: doc_of(&op),
            kind,
            channel,
            message,
            reply,
            queue: op.pointer("/bindings/nats/queue").and_then(Value::as_str).map(str::to_owned),
            purpose,
        })
    }
}

/// A license name as an SPDX expression: as written when it is one, else the id an
/// imprecise name stands for (`Apache 2.0` → `Apache-2.0`), else none (the packages then
/// declare no license rather than a wrong one).
fn spdx_id(name: &str) -> Option<String> {
    if spdx::Expression::parse(name).is_ok() {
        return Some(name.to_owned());
    }
    spdx::imprecise_license_id(name).map(|(id, _)| id.name.to_owned())
}

/// `application/json; charset=utf-8` → `application/json`.
fn media_type(ct: &str) -> String {
    ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// A correlation id's `location`: `$message.header#/Name` or `$message.payload#/a/b`.
fn correlation(at: &At, location: &str) -> Result<Correlation> {
    if let Some(name) = location.strip_prefix("$message.header#/") {
        if name.is_empty() || name.contains('/') {
            return Err(refuse(at, format!("`{location}`: name one header (`$message.header#/Name`)")));
        }
        return Ok(Correlation::Header(name.to_owned()));
    }
    if let Some(ptr) = location.strip_prefix("$message.payload#") {
        let path: Vec<String> =
            ptr.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
        if path.is_empty() || path.iter().any(String::is_empty) {
            return Err(refuse(
                at,
                format!("`{location}`: name a payload property (`$message.payload#/id`)"),
            ));
        }
        return Ok(Correlation::Payload(path));
    }
    Err(refuse(
        at,
        format!("`{location}` is not a runtime expression (`$message.header#/…` or `$message.payload#/…`)"),
    ))
}

/// A channel: its address as a NATS subject template, its parameters.
fn channel(
    docs: &mut Docs,
    at: &At,
    key: &str,
    address: &str,
    c: &Value,
    style: AddressStyle,
) -> Result<Channel> {
    let aat = at.join("address");
    let subject = subject(&aat, address, style)?;
    let mut params = Vec::new();
    for token in subject.split('.') {
        let Some(name) = token.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else { continue };
        if params.iter().any(|p: &Param| p.name == name) {
            return Err(refuse(&aat, format!("parameter `{name}` appears twice in `{address}`")));
        }
        let pat = at.join("parameters").join(name);
        let (doc, allowed) = match c
            .pointer(&format!("/parameters/{}", name.replace('~', "~0").replace('/', "~1")))
        {
            None => (String::new(), Vec::new()),
            Some(p) => {
                let (pat, p) = docs.deref(&pat, p)?;
                let allowed = match p.get("enum") {
                    None => Vec::new(),
                    Some(e) => e
                        .as_array()
                        .ok_or_else(|| refuse(&pat.join("enum"), "must be a list of strings"))?
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| refuse(&pat.join("enum"), "must be a list of strings"))
                        })
                        .collect::<Result<Vec<_>>>()?,
                };
                (p.get("description").and_then(Value::as_str).unwrap_or_default().trim().to_owned(), allowed)
            }
        };
        params.push(Param { name: name.to_owned(), field: snake(name), doc, allowed });
    }
    for declared in c.get("parameters").and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k) {
        if !params.iter().any(|p| &p.name == declared) {
            return Err(refuse(
                &at.join("parameters").join(declared),
                format!("parameter `{declared}` is declared but not in the address `{address}`"),
            ));
        }
    }
    Ok(Channel {
        key: key.to_owned(),
        address: subject,
        params,
        doc: doc_of(c),
        stream: c.pointer("/x-natsbridge-jetstream/stream").and_then(Value::as_str).map(str::to_owned),
    })
}

/// The NATS subject template of an address: tokens separated by `.`, each a literal or one
/// whole `{parameter}` (a parameter is a subject token, so `*` can match it).
pub(super) fn subject(at: &At, address: &str, style: AddressStyle) -> Result<String> {
    let mapped = if address.contains('/') {
        match style {
            AddressStyle::Slash if address.contains("://") => {
                return Err(refuse(
                    at,
                    format!("`{address}` is a URL, not a topic: give the channel its NATS subject"),
                ));
            }
            AddressStyle::Slash if address.trim_matches('/').is_empty() => {
                return Err(refuse(
                    at,
                    format!(
                        "`{address}` (a server's root) names no topic: give the channel its NATS subject"
                    ),
                ));
            }
            AddressStyle::Slash if address.trim_matches('/').contains("//") => {
                return Err(refuse(at, format!("`{address}` has an empty part between two `/`")));
            }
            AddressStyle::Slash => address.trim_matches('/').replace('/', "."),
            AddressStyle::Nats => {
                return Err(refuse(
                    at,
                    format!(
                        "`{address}` separates its parts with `/`, as MQTT topics and HTTP paths do; NATS subjects \
                         separate tokens with `.`: pass `--address-style slash` to map `/` to `.`, or give the \
                         channel its NATS subject"
                    ),
                ));
            }
        }
    } else {
        address.to_owned()
    };
    if mapped.is_empty() {
        return Err(refuse(at, format!("`{address}` is empty: a NATS subject needs at least one token")));
    }
    for token in mapped.split('.') {
        if token.is_empty() {
            return Err(refuse(
                at,
                format!("`{address}` has an empty subject token (`..` or a `.` at an end)"),
            ));
        }
        if token.contains(char::is_whitespace) {
            return Err(refuse(at, format!("`{address}` has whitespace, which NATS subjects cannot hold")));
        }
        if token == "*" || token == ">" {
            return Err(refuse(
                at,
                format!(
                    "`{address}` has the NATS wildcard `{token}`: name the token as a parameter (`{{name}}`)"
                ),
            ));
        }
        if token.contains('{') || token.contains('}') {
            let whole = token.starts_with('{')
                && token.ends_with('}')
                && token[1..token.len() - 1].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !whole || token.len() < 3 {
                return Err(refuse(
                    at,
                    format!(
                        "`{token}` in `{address}`: a parameter must be a whole subject token (`a.{{id}}.b`), named with \
                         letters, digits and `_`, since the NATS wildcard `*` matches whole tokens only"
                    ),
                ));
            }
        }
    }
    Ok(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_subjects_or_are_refused_with_the_fix() {
        let at = At::root("/channels/a/address");
        assert_eq!(subject(&at, "a.{id}.b", AddressStyle::Nats).unwrap(), "a.{id}.b");
        assert_eq!(subject(&at, "/light/{id}/on/", AddressStyle::Slash).unwrap(), "light.{id}.on");
        let err = subject(&at, "light/{id}", AddressStyle::Nats).unwrap_err().to_string();
        assert!(
            err.starts_with("`/channels/a/address`: `light/{id}` separates")
                && err.contains("--address-style slash"),
            "{err}"
        );
        let err = subject(&at, "user-{id}.x", AddressStyle::Nats).unwrap_err().to_string();
        assert!(err.contains("a parameter must be a whole subject token"), "{err}");
        assert!(subject(&at, "a..b", AddressStyle::Nats).is_err());
        assert!(subject(&at, "a.>", AddressStyle::Nats).is_err());
    }

    #[test]
    fn license_names_become_spdx_ids() {
        assert_eq!(spdx_id("Apache-2.0").as_deref(), Some("Apache-2.0"));
        assert_eq!(spdx_id("Apache 2.0").as_deref(), Some("Apache-2.0"));
        assert_eq!(spdx_id("MIT OR Apache-2.0").as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(spdx_id("Proprietary, ask legal"), None);
    }

    #[test]
    fn correlation_locations() {
        let at = At::root("/x");
        assert_eq!(
            correlation(&at, "$message.header#/Correlation-Id").unwrap(),
            Correlation::Header("Correlation-Id".into())
        );
        assert_eq!(
            correlation(&at, "$message.payload#/meta/id").unwrap(),
            Correlation::Payload(vec!["meta".into(), "id".into()])
        );
        assert!(correlation(&at, "$message.body#/id").is_err());
    }

    #[test]
    fn traits_apply_under_the_objects_own_fields() {
        let mut docs = Docs::new(
            serde_json::json!({"t": {"headers": {"properties": {"a": {"type": "string"}}}, "name": "trait"}}),
            Path::new("."),
        );
        let m = serde_json::json!({"name": "own", "traits": [{"$ref": "#/t"}], "headers": {"properties": {"b": {"type": "integer"}}}});
        let merged = with_traits(&mut docs, &At::root("/m"), &m).unwrap();
        assert_eq!(merged["name"], "own");
        assert_eq!(merged["headers"]["properties"].as_object().unwrap().len(), 2);
        assert!(merged.get("traits").is_none());
    }

    /// A document of one channel `c` (address `a.{p}`), operation `op` and whatever `extra`
    /// adds to its message `m` (YAML flow text).
    fn one(message: &str, extra: &str) -> Result<Spec> {
        let text = format!(
            "asyncapi: 3.0.0\ninfo: {{title: Fixture, version: 1.0.0}}\n\
             channels:\n  c:\n    address: 'a.{{p}}'\n    parameters: {{p: {{enum: [x, y]}}}}\n    messages: {{m: {message}}}\n\
             operations:\n  op: {{action: send, channel: {{$ref: '#/channels/c'}}{extra}}}\n"
        );
        parse("fixture.yaml", &text, Path::new("."), &LoadOptions::default())
    }

    fn refusal(message: &str, extra: &str) -> String {
        one(message, extra).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn content_types_choose_the_payload_type() {
        let body = |ct: &str| {
            one(&format!("{{contentType: '{ct}', payload: {{type: string}}}}"), "").unwrap().messages[0]
                .body
                .clone()
        };
        assert_eq!(body("text/plain; charset=utf-8"), Body::Text);
        assert_eq!(body("application/xml"), Body::Text);
        assert_eq!(body("application/octet-stream"), Body::Bytes { payload_type: "binary".into() });
        assert_eq!(body("audio/wav"), Body::Bytes { payload_type: "audio".into() });
        assert_eq!(body("application/vnd.apache.arrow.stream"), Body::Table);
        let json = one("{contentType: application/cloudevents+json, payload: {type: object}}", "").unwrap();
        assert!(matches!(json.messages[0].body, Body::Json { .. }));
        assert_eq!(
            refusal("{contentType: application/avro, payload: {type: string}}", ""),
            "`/channels/c/messages/m/contentType`: content type `application/avro` is not one NATSBridge carries \
             (JSON, text, bytes, Arrow tables): set `x-natsbridge-payload-type: binary` on the message to carry it as bytes"
        );
    }

    #[test]
    fn schema_formats_other_than_json_schema_are_refused_by_name() {
        for (format, what) in [
            ("application/vnd.google.protobuf;version=3", "a Protocol Buffers schema"),
            ("application/vnd.oai.openapi;version=3.0.0", "an OpenAPI schema"),
            ("application/raml+yaml;version=1.0", "a RAML type"),
        ] {
            let err =
                refusal(&format!("{{payload: {{schemaFormat: '{format}', schema: {{type: object}}}}}}"), "");
            assert!(
                err.starts_with("`/channels/c/messages/m/payload/schemaFormat`: ") && err.contains(what),
                "{err}"
            );
        }
        let ok = one(
            "{payload: {schemaFormat: 'application/schema+json;version=draft-07', schema: {type: object}}}",
            "",
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn parameter_enums_replies_by_reference_and_reply_addresses() {
        let spec = one("{payload: {type: object}}", "").unwrap();
        assert_eq!(spec.channels[0].params[0].allowed, ["x", "y"]);
        let files = super::super::generate(
            &spec,
            &super::super::Options::from_spec(&spec),
            &crate::Rustfmt::default(),
        )
        .unwrap();
        let channels = files.iter().find(|f| f.path == "rust/src/channels.rs").unwrap();
        assert!(
            channels.contents.contains(r#"token_of("p", p, &["x", "y"], false)"#),
            "{}",
            channels.contents
        );

        let text = "asyncapi: 3.0.0\ninfo: {title: R, version: '1'}\n\
            channels:\n  q: {address: q, messages: {ask: {payload: {type: object}}}}\n  r: {address: null, messages: {answer: {payload: {type: object}}}}\n\
            operations:\n  ask: {action: send, channel: {$ref: '#/channels/q'}, reply: {$ref: '#/components/replies/answer'}}\n\
            components:\n  replies:\n    answer: {channel: {$ref: '#/channels/r'}, address: {location: '$message.header#/replyTo'}}\n";
        let spec = parse("r.yaml", text, Path::new("."), &LoadOptions::default()).unwrap();
        assert_eq!(
            (spec.operations[0].kind, spec.operations[0].reply.as_deref()),
            (OpKind::Request, Some("answer"))
        );
        let bad = text.replace("$message.header#/replyTo", "$message.payload#/replyTo");
        let err = parse("r.yaml", &bad, Path::new("."), &LoadOptions::default()).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "`/components/replies/answer/address`: a reply address is the request's `reply_to`"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_payload_correlation_id_needs_a_json_payload_and_is_generated() {
        let payload = "{type: object, properties: {meta: {type: object, properties: {id: {type: string}}}}}";
        let spec = one(
            &format!("{{correlationId: {{location: '$message.payload#/meta/id'}}, payload: {payload}}}"),
            "",
        )
        .unwrap();
        assert_eq!(
            spec.messages[0].correlation,
            Some(Correlation::Payload(vec!["meta".into(), "id".into()]))
        );
        let files = super::super::generate(
            &spec,
            &super::super::Options::from_spec(&spec),
            &crate::Rustfmt::default(),
        )
        .unwrap();
        let text = |p: &str| files.iter().find(|f| f.path.ends_with(p)).unwrap().contents.clone();
        assert!(text("rust/src/messages.rs").contains(r#"typed::payload_correlation(self, "/meta/id")"#));
        assert!(text("typescript/src/messages.ts").contains(r#""dictionary", { payload: ["meta", "id"] })"#));
        assert!(text("messages.py").contains(r#"correlation=typed.Correlation(payload=("meta", "id",))"#));
        assert_eq!(
            refusal("{contentType: text/plain, correlationId: {location: '$message.payload#/id'}}", ""),
            "`/channels/c/messages/m/correlationId`: a correlation id in the payload needs a JSON payload: use `$message.header#/Name`"
        );
    }

    #[test]
    fn what_cannot_be_generated_is_refused_with_its_place() {
        assert_eq!(
            refusal("{payload: {type: object, properties: {t: {type: array, items: [{type: string}]}}}}", ""),
            "`/channels/c/messages/m/payload/properties/t/items`: tuple `items` (a list of schemas) is not generated: use one schema for every item"
        );
        assert_eq!(
            refusal("{payload: {type: array, items: {type: object}}}", ""),
            "`/channels/c/messages/m/payload`: an array payload is not generated (a `jsontable` needs rows of objects): \
             make the payload an object with an array property"
        );
        let v2 = parse(
            "x.yaml",
            "asyncapi: 2.6.0\ninfo: {title: X, version: '1'}\n",
            Path::new("."),
            &LoadOptions::default(),
        );
        assert!(v2.unwrap_err().to_string().contains("convert a 2.x document with `asyncapi convert`"));
    }
}
