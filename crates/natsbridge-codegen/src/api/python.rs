//! Python output of a team's spec: one typed distribution (`py.typed`, mypy `--strict`
//! clean) over the runtime's `natsbridge.typed`.
//!
//! The import package is the distribution name with `-` as `_` (`simulation-api` →
//! `simulation_api`):
//!
//! - `_types.py` and `_schema.py`: the payload types as TypedDicts with jsonschema
//!   `parse_x` / `validate_x` / `dump_x`, rendered by the contract's Python emitter
//!   ([`crate::python::types_module`]) from [`Spec::types`];
//! - `channels.py`: per channel its address and wildcard (`COMMAND_ADDRESS`,
//!   `COMMAND_WILDCARD`), its stream (`HEALTH_STREAM`) and a subject function with one
//!   keyword argument per parameter, each checked by `typed.token`;
//! - `messages.py`: per message a codec (`COMMAND_CODEC`): JSON bodies without headers are
//!   the TypedDict itself through `typed.JsonCodec`; the others get a frozen dataclass (the
//!   body as `body` / `table` / `text` / `data`, the declared headers as a `...Headers`
//!   dataclass of typed fields) and a codec class;
//! - `operations.py`: one async function per operation;
//! - `__init__.py` re-exporting all of it.

use std::collections::BTreeSet;

use anyhow::Result;
use askama::Template;

use super::{Body, Channel, Correlation, Message, OpKind, Options, Scalar, Segment, Spec};
use crate::names::{pascal, python_ident, snake, upper_snake};
use crate::python::{docstring, types_module};
use crate::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "api/python/pyproject.toml", escape = "none")]
struct PyprojectView<'a> {
    preamble: &'a str,
    name: String,
    version: String,
    /// The spec's title and source, for the description (rendered as one TOML string).
    title: String,
    source: String,
    runtime: String,
    license: Option<String>,
    package: &'a str,
}

#[derive(Template)]
#[template(path = "api/python/py.typed", escape = "none")]
struct PyTypedView<'a> {
    preamble: &'a str,
}

#[derive(Template)]
#[template(path = "api/python/channels.py", escape = "none")]
struct ChannelsView<'a> {
    preamble: &'a str,
    title: String,
    channels: Vec<ChannelView>,
    /// Some parameter has an `enum` (it needs `token_of`).
    any_allowed: bool,
}

struct ChannelView {
    /// `COMMAND`, for the constants.
    upper: String,
    /// `command_subject`.
    func: String,
    doc: String,
    address: String,
    /// The address for a docstring.
    address_doc: String,
    wildcard: String,
    stream: Option<String>,
    params: Vec<ParamView>,
    /// The subject's parts, for the Python expression of the subject (uses `wildcard_ok`).
    segments: Vec<SegmentView>,
}

enum SegmentView {
    /// Literal text, as a Python literal.
    Literal(String),
    /// A parameter: its name as a literal, its keyword argument, its `enum` values as literals.
    Param { name: String, arg: String, allowed: Vec<String> },
}

/// Where a message declares its correlation id (a `typed.Correlation`).
enum CorrelationView {
    /// The header's name as a literal.
    Header(String),
    /// The payload path, each step as a literal.
    Payload(Vec<String>),
}

struct ParamView {
    /// The keyword argument.
    arg: String,
    /// The name in the address.
    name: String,
    doc: String,
}

#[derive(Template)]
#[template(path = "api/python/messages.py", escape = "none")]
struct MessagesView<'a> {
    preamble: &'a str,
    title: String,
    type_imports: Vec<String>,
    messages: Vec<MessageView>,
    uses_pyarrow: bool,
    /// Some message is a union (it needs `Literal` and `TypeAlias`).
    any_union: bool,
}

struct MessageView {
    /// The message's `name` (the payload's dataname), as a Python literal.
    name: String,
    /// The message's `name` for a docstring.
    name_doc: String,
    payload_type: String,
    doc: String,
    /// `COMMAND_CODEC`.
    codec: String,
    /// The Python type of a message value.
    ty: String,
    /// For a JSON body: the TypedDict, its schema name and validator.
    json: Option<JsonView>,
    /// For a message with its own dataclass.
    class: Option<ClassView>,
    /// A union of messages: each member's `(name literal, type, codec, variant alias)`.
    union: Vec<(String, String, String, String)>,
    /// Where the message declares its correlation id.
    correlation: Option<CorrelationView>,
}

struct JsonView {
    type_name: String,
    schema_name: String,
    validate: String,
    /// The constant holding the body's JsonCodec (the codec itself when there is no class).
    constant: String,
}

struct ClassView {
    name: String,
    codec_class: String,
    /// `body`, `table`, `text` or `data`.
    field: String,
    field_type: String,
    field_doc: String,
    headers_class: Option<String>,
    headers: Vec<HeaderView>,
}

struct HeaderView {
    /// The header name on the wire, as a Python literal.
    name: String,
    /// The header name for a docstring.
    wire: String,
    field: String,
    /// The Python type (`| None = None` added when the header is optional).
    ty: &'static str,
    /// The `typed` function that parses the header's text.
    parse: &'static str,
    required: bool,
    doc: String,
}

#[derive(Template)]
#[template(path = "api/python/operations.py", escape = "none")]
struct OperationsView<'a> {
    preamble: &'a str,
    title: String,
    type_imports: Vec<String>,
    class_imports: Vec<String>,
    operations: Vec<OpView>,
}

struct OpView {
    /// `publish`, `request`, `stream_publish`, `subscribe`, `serve`, `stream_consume`.
    kind: &'static str,
    name: String,
    doc: String,
    /// The keyword-only arguments, one per channel parameter.
    args: Vec<String>,
    /// The channel's subject function (`command_subject`), called with `args` (and
    /// `wildcard_ok=True` when receiving).
    subject_fn: String,
    receiving: bool,
    address: String,
    ty: String,
    codec: String,
    reply_ty: String,
    reply_codec: String,
    purpose: String,
    /// A Python literal: the default queue group.
    queue: Option<String>,
    /// The channel's `X_STREAM` constant (empty: none).
    stream: String,
    /// The stream's name for a docstring.
    stream_name: String,
}

#[derive(Template)]
#[template(path = "api/python/__init__.py", escape = "none")]
struct InitView<'a> {
    preamble: &'a str,
    title: String,
    description: String,
    package: &'a str,
    types: Vec<String>,
    channels: Vec<String>,
    messages: Vec<String>,
    operations: Vec<String>,
    runtime: Vec<String>,
    exports: Vec<String>,
}

/// A Python string literal.
fn py_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The templates' filters: literals.
#[expect(unreachable_pub, reason = "askama's `filter_fn` declares each filter `pub`")]
mod filters {
    use std::fmt::Display;

    /// `text` as a TOML basic string.
    #[askama::filter_fn]
    pub(super) fn toml_str<T: Display>(text: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::toml_str(&text.to_string()))
    }
}

/// Names an operation function or a subject function already uses for itself.
const RESERVED_ARGS: &[&str] = &[
    "bridge",
    "message",
    "correlation_id",
    "timeout",
    "queue",
    "options",
    "to",
    "reply",
    "error",
    "msg_id",
    "wildcard_ok",
    "typed",
    "channels",
    "messages",
];

fn arg_name(field: &str) -> String {
    let s = python_ident(field);
    if RESERVED_ARGS.contains(&s.as_str()) { format!("{s}_") } else { s }
}

/// The package's import name.
fn package_name(distribution: &str) -> String {
    let s: String =
        distribution.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    let s = s.to_ascii_lowercase();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) { format!("p_{s}") } else { s }
}

fn channel_view(c: &Channel) -> ChannelView {
    let params: Vec<ParamView> = c
        .params
        .iter()
        .map(|p| ParamView { arg: arg_name(&p.field), name: p.name.clone(), doc: docstring(&p.doc) })
        .collect();
    let segments = c
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Literal(t) => SegmentView::Literal(py_str(t)),
            Segment::Param(name) => {
                let p = params.iter().find(|p| p.name == *name).expect("every segment is a parameter");
                SegmentView::Param {
                    name: py_str(name),
                    arg: p.arg.clone(),
                    allowed: c
                        .params
                        .iter()
                        .find(|x| x.name == *name)
                        .map(|x| x.allowed.iter().map(|a| py_str(a)).collect())
                        .unwrap_or_default(),
                }
            }
        })
        .collect();
    ChannelView {
        upper: upper_snake(&c.key),
        func: format!("{}_subject", python_ident(&c.key)),
        doc: docstring(&c.doc),
        address: py_str(&c.address),
        address_doc: docstring(&c.address),
        wildcard: py_str(&c.wildcard()),
        stream: c.stream.as_deref().map(py_str),
        params,
        segments,
    }
}

fn header_view(h: &super::Header) -> HeaderView {
    let (ty, parse) = match h.ty {
        Scalar::String => ("str", "parse_str"),
        Scalar::Integer { unsigned: true } => ("int", "parse_uint"),
        Scalar::Integer { unsigned: false } => ("int", "parse_int"),
        Scalar::Number => ("float", "parse_float"),
        Scalar::Boolean => ("bool", "parse_bool"),
    };
    HeaderView {
        name: py_str(&h.name),
        wire: docstring(&h.name),
        field: python_ident(&h.field),
        ty,
        parse,
        required: h.required,
        doc: docstring(&h.doc),
    }
}

fn message_view(spec: &Spec, m: &Message) -> MessageView {
    let upper = upper_snake(&m.key);
    let name = py_str(&m.name);
    if let Body::Union { members } = &m.body {
        return MessageView {
            name,
            name_doc: docstring(&m.name),
            payload_type: String::new(),
            doc: docstring(&m.doc),
            codec: format!("{upper}_CODEC"),
            ty: m.type_name.clone(),
            json: None,
            class: None,
            correlation: None,
            union: members
                .iter()
                .map(|k| {
                    let member = spec.message(k);
                    let v = message_view(spec, member);
                    (py_str(&member.name), v.ty, v.codec, format!("{}{}", m.type_name, pascal(&member.key)))
                })
                .collect(),
        };
    }
    let payload_type = m.body.payload_type().to_owned();
    let json = match &m.body {
        Body::Json { type_name, .. } => {
            let ty = pascal(type_name);
            Some(JsonView {
                validate: format!("validate_{}", python_ident(&snake(type_name))),
                schema_name: py_str(type_name),
                constant: if m.plain_json().is_some() {
                    format!("{upper}_CODEC")
                } else {
                    format!("_{upper}_BODY")
                },
                type_name: ty,
            })
        }
        _ => None,
    };
    let class = m.plain_json().is_none().then(|| {
        let cname = m.type_name.clone();
        let (field, field_type, field_doc) = match &m.body {
            Body::Json { .. } => {
                let j = json.as_ref().expect("a JSON body");
                ("body", j.type_name.clone(), "The message's JSON document.")
            }
            Body::Table => ("table", "pa.Table".to_owned(), "The Arrow table."),
            Body::Text => ("text", "str".to_owned(), "The text."),
            Body::Bytes { .. } => ("data", "bytes".to_owned(), "The raw bytes."),
            Body::Union { .. } => unreachable!("unions returned above"),
        };
        let mut headers: Vec<HeaderView> = m.headers.iter().map(header_view).collect();
        // Required fields first (a dataclass's defaults come last); keyword-only anyway.
        headers.sort_by_key(|h| !h.required);
        ClassView {
            headers_class: (!m.headers.is_empty()).then(|| format!("{cname}Headers")),
            codec_class: format!("{cname}Codec"),
            name: cname,
            field: field.to_owned(),
            field_type,
            field_doc: field_doc.to_owned(),
            headers,
        }
    });
    let ty = match (&class, &json) {
        (Some(c), _) => c.name.clone(),
        (None, Some(j)) => j.type_name.clone(),
        (None, None) => unreachable!("a message is plain JSON or has a class"),
    };
    MessageView {
        name,
        name_doc: docstring(&m.name),
        payload_type: py_str(&payload_type),
        doc: docstring(&m.doc),
        codec: format!("{upper}_CODEC"),
        ty,
        json,
        class,
        union: Vec::new(),
        correlation: m.correlation.as_ref().map(|c| match c {
            Correlation::Header(h) => CorrelationView::Header(py_str(h)),
            Correlation::Payload(path) => CorrelationView::Payload(path.iter().map(|p| py_str(p)).collect()),
        }),
    }
}

pub(crate) fn generate(spec: &Spec, options: &Options, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    let pre = preamble("#", &spec.types);
    let distribution = options.name("python").to_owned();
    let package = package_name(&distribution);
    let root = format!("{out_dir}/{package}");
    let title = docstring(&spec.title);

    let types = types_module(&spec.types, &format!("{}: the payload types of its messages.", spec.title))?;
    let channels: Vec<ChannelView> = spec.channels.iter().map(channel_view).collect();
    let messages: Vec<MessageView> =
        spec.used_messages().into_iter().map(|m| message_view(spec, m)).collect();

    let mut message_type_imports = BTreeSet::new();
    for m in &messages {
        if let Some(j) = &m.json {
            message_type_imports.insert(j.type_name.clone());
            message_type_imports.insert(j.validate.clone());
        }
    }

    let mut operations = Vec::new();
    let mut op_type_imports = BTreeSet::new();
    for op in &spec.operations {
        let c = spec.channel(&op.channel);
        let m = messages_by_key(spec, &messages, &op.message);
        let reply = op.reply.as_deref().map(|r| messages_by_key(spec, &messages, r));
        let receiving = matches!(op.kind, OpKind::Subscribe | OpKind::Serve | OpKind::StreamConsume);
        for t in std::iter::once(m).chain(reply) {
            if t.json.is_some() && t.class.is_none() {
                op_type_imports.insert(t.ty.clone());
            }
        }
        operations.push(OpView {
            kind: match op.kind {
                OpKind::Publish => "publish",
                OpKind::Request => "request",
                OpKind::StreamPublish => "stream_publish",
                OpKind::Subscribe => "subscribe",
                OpKind::Serve => "serve",
                OpKind::StreamConsume => "stream_consume",
            },
            name: python_ident(&op.snake),
            doc: docstring(&op.doc),
            args: c.params.iter().map(|p| arg_name(&p.field)).collect(),
            subject_fn: format!("{}_subject", python_ident(&c.key)),
            receiving,
            address: c.address.replace('`', "'"),
            ty: m.ty.clone(),
            codec: m.codec.clone(),
            reply_ty: reply.map(|r| r.ty.clone()).unwrap_or_default(),
            reply_codec: reply.map(|r| r.codec.clone()).unwrap_or_default(),
            purpose: py_str(&op.purpose),
            queue: op.queue.as_deref().map(py_str),
            stream_name: c.stream.as_deref().map(docstring).unwrap_or_default(),
            stream: if c.stream.is_some() { upper_snake(&c.key) } else { String::new() },
        });
    }
    // Types of the messages module: dataclasses and unions (only those operations use).
    let class_imports: Vec<String> = messages
        .iter()
        .filter_map(|m| {
            m.class.as_ref().map(|c| c.name.clone()).or_else(|| (!m.union.is_empty()).then(|| m.ty.clone()))
        })
        .collect();

    let channel_names: Vec<String> = channels
        .iter()
        .flat_map(|c| {
            let mut v = vec![format!("{}_ADDRESS", c.upper), format!("{}_WILDCARD", c.upper), c.func.clone()];
            if c.stream.is_some() {
                v.push(format!("{}_STREAM", c.upper));
            }
            v
        })
        .collect();
    let message_names: Vec<String> = messages
        .iter()
        .flat_map(|m| {
            let mut v = vec![m.codec.clone()];
            if !m.union.is_empty() {
                v.push(m.ty.clone());
                v.extend(m.union.iter().map(|(_, _, _, alias)| alias.clone()));
            }
            if let Some(c) = &m.class {
                v.push(c.name.clone());
                v.push(c.codec_class.clone());
                v.extend(c.headers_class.clone());
            }
            v
        })
        .collect();
    let mut operation_names = Vec::new();
    for op in &operations {
        operation_names.push(op.name.clone());
        if op.kind == "serve" {
            operation_names.push(format!("{}_reply", op.name));
            operation_names.push(format!("{}_error", op.name));
        }
    }
    let runtime: Vec<String> = ["Bridge", "ConsumerOptions", "Incoming", "Replay", "Stored", "Subscription"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut exports: Vec<String> = types
        .exports
        .iter()
        .chain(&channel_names)
        .chain(&message_names)
        .chain(&operation_names)
        .chain(&runtime)
        .cloned()
        .collect();
    exports.sort();
    let before = exports.len();
    exports.dedup();
    if exports.len() != before {
        anyhow::bail!(
            "two generated Python names collide in `{package}`: rename a message, channel or operation"
        );
    }

    let uses_pyarrow = messages.iter().any(|m| m.class.as_ref().is_some_and(|c| c.field_type == "pa.Table"));
    let mut type_imports_ops: Vec<String> = op_type_imports.into_iter().collect();
    type_imports_ops.sort();
    let mut class_imports_sorted = class_imports.clone();
    class_imports_sorted.sort();

    let pyproject = PyprojectView {
        preamble: &pre,
        name: toml_str(&distribution),
        version: toml_str(&options.version),
        title: spec.title.clone(),
        source: spec.source.clone(),
        runtime: toml_str(&options.python_runtime),
        license: spec.license.as_deref().map(toml_str),
        package: &package,
    }
    .render()?;
    let init = InitView {
        preamble: &pre,
        title: title.clone(),
        description: docstring(&spec.description),
        package: &package,
        types: types.exports.clone(),
        channels: channel_names,
        messages: message_names,
        operations: operation_names,
        runtime,
        exports,
    }
    .render()?;
    let any_allowed = spec.channels.iter().any(|c| c.params.iter().any(|p| !p.allowed.is_empty()));
    let channels_py =
        ChannelsView { preamble: &pre, title: title.clone(), channels, any_allowed }.render()?;
    let any_union = messages.iter().any(|m| !m.union.is_empty());
    let messages_py = MessagesView {
        preamble: &pre,
        title: title.clone(),
        type_imports: message_type_imports.into_iter().collect(),
        messages,
        uses_pyarrow,
        any_union,
    }
    .render()?;
    let operations_py = OperationsView {
        preamble: &pre,
        title,
        type_imports: type_imports_ops,
        class_imports: class_imports_sorted,
        operations,
    }
    .render()?;
    let py_typed = PyTypedView { preamble: &pre }.render()?;

    Ok(vec![
        GeneratedFile::new(format!("{out_dir}/pyproject.toml"), pyproject),
        GeneratedFile::new(format!("{root}/__init__.py"), init),
        GeneratedFile::new(format!("{root}/_schema.py"), types.schema),
        GeneratedFile::new(format!("{root}/_types.py"), types.types),
        GeneratedFile::new(format!("{root}/channels.py"), channels_py),
        GeneratedFile::new(format!("{root}/messages.py"), messages_py),
        GeneratedFile::new(format!("{root}/operations.py"), operations_py),
        GeneratedFile::new(format!("{root}/py.typed"), py_typed),
    ])
}

fn messages_by_key<'a>(spec: &Spec, views: &'a [MessageView], key: &str) -> &'a MessageView {
    let used = spec.used_messages();
    let i = used.iter().position(|m| m.key == key).expect("an operation's message is used");
    &views[i]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SPEC: &str = r#"
asyncapi: 3.0.0
info: {title: Tricky Things, version: 0.3.1}
channels:
  alerts:
    address: ops.alerts
    messages: {alert: {$ref: '#/components/messages/Alert'}}
  notes:
    address: 'ops.{class}.{message}.notes'
    parameters: {class: {description: 'A "class" \ here'}, message: {}}
    messages: {note: {$ref: '#/components/messages/Note'}}
operations:
  raiseAlert: {action: send, channel: {$ref: '#/channels/alerts'}}
  readNotes: {action: receive, channel: {$ref: '#/channels/notes'}}
components:
  messages:
    Alert:
      name: alert
      payload: {$ref: '#/components/schemas/Alert'}
      headers:
        type: object
        required: [Severity]
        properties: {Severity: {type: integer}, Urgent: {type: boolean}}
    Note: {name: note, x-natsbridge-payload-type: text}
  schemas:
    Alert: {type: object, required: [text], properties: {text: {type: string}}}
"#;

    fn file<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
        &files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no {path}")).contents
    }

    #[test]
    fn names_stay_clear_of_keywords_arguments_and_payload_types() {
        let spec = Spec::parse("asyncapi.yaml", SPEC, Path::new(".")).unwrap();
        let options = Options::from_spec(&spec);
        let files = generate(&spec, &options, "python").unwrap();
        assert_eq!(files, generate(&spec, &options, "python").unwrap(), "deterministic");
        assert!(files.iter().all(|f| f.contents.starts_with("# Generated by `natsbridge codegen`")));
        let channels = file(&files, "python/tricky_things_api/channels.py");
        assert!(channels.contains("def alerts_subject() -> str:"), "{channels}");
        assert!(
            channels.contains(
                "def notes_subject(*, class_: str, message_: str, wildcard_ok: bool = False) -> str:"
            )
        );
        assert!(channels.contains(r#"token("class", class_, wildcard_ok) + "." + token("message""#));
        let messages = file(&files, "python/tricky_things_api/messages.py");
        // The message `Alert` has headers, so its class must not shadow the payload type `Alert`.
        assert!(messages.contains("class AlertMessage:\n"), "{messages}");
        assert!(messages.contains("    body: Alert\n"));
        assert!(messages.contains("    urgent: bool | None = None\n"));
        assert!(messages.contains(r#"typed.required_header(received.headers, "Severity", typed.parse_int)"#));
        let ops = file(&files, "python/tricky_things_api/operations.py");
        assert!(ops.contains(
            "async def raise_alert(\n    bridge: Bridge, message: AlertMessage, *, correlation_id"
        ));
        assert!(ops.contains("channels.notes_subject(class_=class_, message_=message_, wildcard_ok=True)"));
        let pyproject = file(&files, "python/pyproject.toml");
        assert!(pyproject.contains("name = \"tricky-things-api\"\nversion = \"0.3.1\""), "{pyproject}");
    }
}
