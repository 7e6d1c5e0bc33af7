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

mod docs;
mod julia;
mod load;
mod python;
mod rust;
mod schemas;
mod typescript;

pub use load::{AddressStyle, LoadOptions};

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail, format_err};

use crate::model::Model;
use crate::names::pascal;
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
    /// `info.license.name` as an SPDX expression (`Apache 2.0` → `Apache-2.0`); none when
    /// it names no license SPDX knows.
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
    /// Where each named type of [`Spec::types`] was written, as a URI reference:
    /// `#/components/schemas/Lumens`, or `schemas/lumens.json#` for a file beside the
    /// document (what `natsbridge diff` points at).
    pub type_places: BTreeMap<String, String>,
    /// Where each message of [`Spec::messages`] was written, by key (as `type_places`).
    pub message_places: BTreeMap<String, String>,
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
    /// Where the message carries its correlation id besides the envelope
    /// (`correlationId.location`).
    pub correlation: Option<Correlation>,
    /// A JSON body whose type cannot carry the message itself (a free-form object is a
    /// `serde_json::Map` in Rust, which another crate's trait cannot be implemented on): the
    /// message gets its own type around it, as a message with headers does.
    pub wrapped: bool,
}

/// Where a message's `correlationId` is, besides the envelope's `correlation_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlation {
    /// `$message.header#/Name`: the envelope's correlation id also travels in this header.
    Header(String),
    /// `$message.payload#/a/b`: the payload's property at this path is the correlation id
    /// (a send takes it for the envelope's `correlation_id`).
    Payload(Vec<String>),
}

impl Message {
    /// The payload type, when the message is nothing but a JSON value of it (no declared
    /// headers): every language then uses that type itself for the message, and
    /// [`Message::type_name`] only for the others.
    pub fn plain_json(&self) -> Option<&str> {
        match &self.body {
            Body::Json { type_name, .. } if self.headers.is_empty() && !self.wrapped => Some(type_name),
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
    /// One of several messages (keys of [`Spec::messages`]), told apart by the payload's
    /// `dataname`: several messages on one operation or channel.
    Union {
        /// The messages, in the order the document lists them.
        members: Vec<String>,
    },
}

impl Body {
    /// The envelope's `payload_type` for this body (a union's members have their own).
    pub fn payload_type(&self) -> &str {
        match self {
            Body::Json { payload_type, .. } | Body::Bytes { payload_type } => payload_type,
            Body::Table => "arrowtable",
            Body::Text => "text",
            Body::Union { .. } => "one per message",
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
    /// The values it may take (the parameter's `enum`); empty: any subject token.
    pub allowed: Vec<String>,
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
    /// one. `$ref`s may point into the document or at files beside it.
    pub fn load(path: &Path) -> Result<Spec> {
        Spec::load_with(path, &LoadOptions::default())
    }

    /// [`Spec::load`] with choices about reading it (how addresses become subjects).
    pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Spec> {
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
        load::parse(&name, &text, &dir, options)
    }

    /// Parses a document whose relative `$ref`s resolve in `dir`.
    pub fn parse(source: &str, text: &str, dir: &Path) -> Result<Spec> {
        load::parse(source, text, dir, &LoadOptions::default())
    }

    /// The message with component key `key`.
    pub fn message(&self, key: &str) -> &Message {
        self.messages.iter().find(|m| m.key == key).expect("checked when loading")
    }

    /// The channel with key `key`.
    pub fn channel(&self, key: &str) -> &Channel {
        self.channels.iter().find(|c| c.key == key).expect("checked when loading")
    }

    /// The messages some operation sends, receives or replies with (and the members of
    /// such unions), in document order.
    pub fn used_messages(&self) -> Vec<&Message> {
        let direct =
            |key: &str| self.operations.iter().any(|o| o.message == key || o.reply.as_deref() == Some(key));
        self.messages
            .iter()
            .filter(|m| {
                direct(&m.key)
                    || self.messages.iter().any(|u| {
                        matches!(&u.body, Body::Union { members } if members.contains(&m.key))
                            && direct(&u.key)
                    })
            })
            .collect()
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
    /// Where the Rust crate's runtime comes from: the keys of its
    /// `natsbridge = { ..., features = ["typed"] }` in Cargo.toml that say so
    /// (`version = "0.1.0"` or `path = "..."`); the template adds the `typed` feature the
    /// generated operations call.
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
        // "Streetlights MQTT API" → `streetlights-mqtt`, then `-api` once.
        let mut words: Vec<String> =
            crate::names::words(&spec.title).iter().map(|w| w.to_ascii_lowercase()).collect();
        if words.len() > 1 && words.last().is_some_and(|w| w == "api") {
            words.pop();
        }
        let base = words.join("-");
        let mut names = BTreeMap::new();
        for (lang, default) in [
            ("rust", format!("{base}-api")),
            ("typescript", format!("{base}-api")),
            ("python", format!("{base}-api")),
            ("julia", format!("{}Api", pascal(&base))),
        ] {
            names.insert(lang.to_owned(), spec.package_names.get(lang).cloned().unwrap_or(default));
        }
        Options {
            languages: LANGUAGES.iter().map(|s| (*s).to_owned()).collect(),
            version: package_version(&spec.version),
            names,
            rust_runtime: format!("version = \"{RUNTIME_VERSION}\""),
            // A caret range, so the team's own `@natsbridge/client` and the generated
            // package's are one copy in the tree (a `Bridge` crosses that boundary).
            typescript_runtime: format!("^{RUNTIME_VERSION}"),
            python_runtime: format!("natsbridge>={RUNTIME_VERSION}"),
        }
    }

    /// Depend on the runtimes of a NATSBridge checkout at `root` (path dependencies),
    /// written relative to the output directory `out` when both are relative.
    pub fn runtimes_from_checkout(mut self, root: &str) -> Options {
        let root = root.trim_end_matches('/');
        self.rust_runtime = format!("path = \"{root}/crates/natsbridge\"");
        self.typescript_runtime = format!("file:{root}/packages/typescript");
        self.python_runtime = "natsbridge".to_owned();
        self
    }

    pub(crate) fn name(&self, lang: &str) -> &str {
        &self.names[lang]
    }
}

/// `info.version` as a package version: as written when it is semver, `v1.2.3` → `1.2.3`,
/// `1.2` → `1.2.0`, `1` → `1.0.0`; anything else as written ([`generate`] refuses it).
fn package_version(v: &str) -> String {
    let v = v.trim().strip_prefix('v').unwrap_or(v.trim());
    if semver::Version::parse(v).is_ok() {
        return v.to_owned();
    }
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() < 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        let mut parts: Vec<String> = parts.iter().map(|p| p.trim_start_matches('0').to_owned()).collect();
        for p in &mut parts {
            if p.is_empty() {
                *p = "0".into();
            }
        }
        parts.resize(3, "0".into());
        return parts.join(".");
    }
    v.to_owned()
}

/// The runtime version the generated packages ask for: this generator's own version, which
/// is the runtimes' version in all three registries (crates.io `natsbridge`, npm
/// `@natsbridge/client`, PyPI `natsbridge`; xtask's tidy test fails when they drift apart).
pub const RUNTIME_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every file of every chosen language, sorted by path: `rust/`, `typescript/`, `python/`,
/// `julia/` under the output root.
pub fn generate(spec: &Spec, options: &Options, rustfmt: &Rustfmt) -> Result<Vec<GeneratedFile>> {
    for lang in &options.languages {
        if !LANGUAGES.contains(&lang.as_str()) {
            bail!("unknown language `{lang}` (one of {})", LANGUAGES.join(", "));
        }
    }
    if semver::Version::parse(&options.version).is_err() {
        bail!(
            "`info.version` `{}` is not a semantic version (MAJOR.MINOR.PATCH), which Cargo, npm and PyPI \
             need for a package: pass `--version 1.0.0`",
            options.version
        );
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
        assert_eq!(package_version("v1.2"), "1.2.0");
        assert_eq!(package_version("2"), "2.0.0");
        assert_eq!(package_version("1.0.0-rc.1"), "1.0.0-rc.1");
        assert_eq!(package_version("2024-05"), "2024-05", "no guess: generate refuses it");
        let api = parse(&SPEC.replace("Weather Station", "Streetlights MQTT API"), "api").unwrap();
        let names = Options::from_spec(&api).names;
        assert_eq!(
            (names["rust"].as_str(), names["julia"].as_str()),
            ("streetlights-mqtt-api", "StreetlightsMqttApi")
        );
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
    fn several_messages_on_a_channel_become_one_union_and_mistakes_are_refused_with_their_place() {
        let two = SPEC.replace(
            "messages: {alert: {$ref: '#/components/messages/Alert'}}",
            "messages: {alert: {$ref: '#/components/messages/Alert'}, clear: {name: clear, payload: {type: object}}}",
        )
        .replace(
            "messages: [{$ref: '#/channels/alerts/messages/alert'}]",
            "messages: [{$ref: '#/channels/alerts/messages/alert'}, {$ref: '#/channels/alerts/messages/clear'}, {$ref: '#/channels/alerts/messages/alert'}]",
        );
        let spec = parse(&two, "two").unwrap();
        let op = spec.operations.iter().find(|o| o.key == "watchAlerts").unwrap();
        assert_eq!(op.message, "AlertsMessage", "all of the channel's messages: named after it");
        assert_eq!(
            spec.message(&op.message).body,
            Body::Union { members: vec!["Alert".into(), "clear".into()] }
        );
        assert_eq!(spec.message("clear").name, "clear", "an inline message keeps its key");
        let files = generate(&spec, &Options::from_spec(&spec), &Rustfmt::default()).unwrap();
        let messages = files.iter().find(|f| f.path == "rust/src/messages.rs").unwrap();
        assert!(messages.contents.contains("pub enum AlertsMessage {"), "{}", messages.contents);

        let bad_param = SPEC.replace(
            "parameters: {site: {description: Where}, sensor: {}}",
            "parameters: {site: {}, sensor: {}, floor: {}}",
        );
        let err = parse(&bad_param, "param").unwrap_err().to_string();
        assert_eq!(
            err,
            "`/channels/readings/parameters/floor`: parameter `floor` is declared but not in the address `weather.{site}.{sensor}.readings`"
        );
    }
}
