//! TypeScript output of a team's spec: an ESM npm package (strict TypeScript, compiled
//! with `tsc`) over the runtime `@natsbridge/client`.
//!
//! - `src/types.ts`, `src/schema.ts`: the payload types and their ajv validators, rendered
//!   by the contract emitter ([`crate::typescript::render_types`]) from the spec's model.
//! - `src/channels.ts`: per channel `<NAME>_ADDRESS`, `<NAME>_WILDCARD`, `<NAME>_STREAM` (a
//!   JetStream channel) and `<name>Subject(params)`, every parameter checked by
//!   `typed.token`.
//! - `src/messages.ts`: per message a `typed.MessageCodec` (`<message>Codec`); messages that
//!   are not a plain JSON value (headers, bytes, text, tables) get an interface of their own
//!   (`{ data | text | table | body, headers }`), their headers one too (`<Message>Headers`,
//!   camelCase fields).
//! - `src/operations.ts`: one function per operation (`sendCommand`, `handleCommand` with
//!   `handleCommandReply`, `publishHealth`, `replayHealth`, ...), each one call of the
//!   runtime's `typed` namespace.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use askama::Template;

use super::{Body, Channel, Correlation, Message, OpKind, Options, Scalar, Segment, Spec};
use crate::model::Kind;
use crate::names::{camel, pascal, ts_type_name, upper_snake};
use crate::typescript::{doc, render_types};
use crate::{GeneratedFile, preamble};

/// The apache-arrow range a package with Arrow tables asks for (peer dependency): the
/// major version `@natsbridge/client` is built with, so tables are the runtime's class.
const ARROW_VERSION: &str = "^21.2.0";

#[derive(Template)]
#[template(path = "api/typescript/package.json", escape = "none")]
struct PackageView {
    comment: String,
    name: String,
    version: String,
    /// The spec's title and source, for the description (rendered as one JSON string).
    title: String,
    source: String,
    license: Option<String>,
    runtime: String,
    needs_arrow: bool,
    arrow_version: &'static str,
}

#[derive(Template)]
#[template(path = "api/typescript/tsconfig.json", escape = "none")]
struct TsconfigView {
    preamble: String,
}

#[derive(Template)]
#[template(path = "api/typescript/src/index.ts", escape = "none")]
struct IndexView {
    preamble: String,
    title: String,
    version: String,
    source: String,
    description: Vec<String>,
}

#[derive(Template)]
#[template(path = "api/typescript/src/channels.ts", escape = "none")]
struct ChannelsView {
    preamble: String,
    title: String,
    channels: Vec<ChannelView>,
}

struct ChannelView {
    /// The channel's description (empty: none).
    doc: String,
    key: String,
    upper: String,
    /// The address as a JavaScript string literal.
    address: String,
    /// The address for doc comments.
    address_raw: String,
    wildcard: String,
    stream: Option<String>,
    subject_fn: String,
    params_type: String,
    params: Vec<ParamView>,
    /// The subject's parts, for a template literal over `params` and `w`.
    segments: Vec<SegmentView>,
}

struct ParamView {
    doc: String,
    field: String,
    /// The parameter's `enum` values as literals (empty: any string).
    allowed: Vec<String>,
}

enum SegmentView {
    /// Literal text, escaped for a template literal.
    Literal(String),
    /// A parameter: its name as a literal, its field, its `enum` values as literals.
    Param { name: String, field: String, allowed: Vec<String> },
}

/// A TypeScript import: `(is a type, name)` pairs, values first then types, each sorted.
struct ImportView {
    from: &'static str,
    names: Vec<(bool, String)>,
    /// Every name is a type (`import type { .. }`).
    types_only: bool,
}

/// Where a message declares its correlation id (a `typed.Correlation`).
enum CorrelationView {
    /// The header's name as a literal.
    Header(String),
    /// The payload path, each step as a literal.
    Payload(Vec<String>),
}

#[derive(Template)]
#[template(path = "api/typescript/src/messages.ts", escape = "none")]
struct MessagesView {
    preamble: String,
    title: String,
    client_imports: ImportView,
    type_imports: ImportView,
    messages: Vec<MessageView>,
}

struct MessageView {
    /// The message's description (empty: none).
    doc: String,
    key: String,
    name: String,
    name_lit: String,
    codec: String,
    ts_type: String,
    payload_type: String,
    /// `validateX` of a plain JSON message.
    validator: String,
    headers: Vec<HeaderView>,
    wrapper: Option<WrapperView>,
    /// A union of messages: each member's `(name literal, type, codec)`.
    union: Vec<(String, String, String)>,
    /// Where the message declares its correlation id.
    correlation: Option<CorrelationView>,
}

struct HeaderView {
    /// The header's description (empty: none).
    doc: String,
    field: String,
    /// The header's name for a doc comment.
    name: String,
    wire: String,
    kind: &'static str,
    ts_type: &'static str,
    required: bool,
}

struct WrapperView {
    headers_type: String,
    field: &'static str,
    field_type: String,
    /// A JSON body (through `<codec>Body`); otherwise the payload is the field itself.
    json: Option<JsonView>,
}

struct JsonView {
    ty: String,
    validator: String,
}

#[derive(Template)]
#[template(path = "api/typescript/src/operations.ts", escape = "none")]
struct OperationsView {
    preamble: String,
    title: String,
    client_imports: ImportView,
    channel_imports: ImportView,
    codec_imports: ImportView,
    type_imports: ImportView,
    operations: Vec<OpView>,
}

struct OpView {
    /// The operation's description (empty: none).
    doc: String,
    kind: &'static str,
    name: String,
    /// The message's name, the channel's address and stream, for the doc comment.
    message_name: String,
    address: String,
    stream_name: String,
    queue_name: String,
    /// The channel has parameters (the function takes `params`).
    has_params: bool,
    /// The operation receives (a parameter may be `*`).
    receiving: bool,
    params_type: String,
    subject_fn: String,
    message_type: String,
    reply_type: String,
    reply_name: String,
    codec: String,
    reply_codec: String,
    purpose: String,
    /// The default queue group as a literal.
    queue: Option<String>,
    stream: String,
}

/// Words JavaScript reserves: an operation named so gets a `_` suffix.
const JS_RESERVED: &[&str] = &[
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "arguments",
    "eval",
];

fn js_ident(s: String) -> String {
    if JS_RESERVED.contains(&s.as_str()) { format!("{s}_") } else { s }
}

/// A JavaScript string literal (JSON's syntax is a subset).
fn lit(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Text for a doc comment: no `*/`.
fn in_doc(s: &str) -> String {
    s.replace("*/", "*\\/")
}

/// Literal text inside a template literal.
fn template_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('`', "\\`").replace('$', "\\$")
}

/// Names of a message in the generated code.
struct MessageNames {
    /// The TypeScript type of its value.
    ts_type: String,
    /// Its codec constant.
    codec: String,
    /// True when `ts_type` is declared in `messages.ts` (not a payload type of `types.ts`).
    wrapper: bool,
}

fn message_names(m: &Message) -> MessageNames {
    let codec = format!("{}Codec", camel(&m.key));
    match (m.plain_json(), &m.body) {
        (Some(type_name), _) => MessageNames { ts_type: ts_type_name(type_name), codec, wrapper: false },
        // Wrappers and unions are types of the messages module.
        (None, _) => MessageNames { ts_type: ts_type_name(&m.type_name), codec, wrapper: true },
    }
}

fn channel_names(c: &Channel) -> (String, String, String) {
    let upper = upper_snake(&c.key);
    let subject_fn = format!("{}Subject", camel(&c.key));
    let params_type = format!("{}Params", pascal(&c.key));
    (upper, subject_fn, params_type)
}

fn header_kind(ty: Scalar) -> (&'static str, &'static str) {
    match ty {
        Scalar::String => ("string", "string"),
        Scalar::Integer { unsigned: true } => ("unsigned", "number"),
        Scalar::Integer { unsigned: false } => ("integer", "number"),
        Scalar::Number => ("number", "number"),
        Scalar::Boolean => ("boolean", "boolean"),
    }
}

/// The import of `names` from `from`.
fn import(names: &BTreeSet<(bool, String)>, from: &'static str) -> ImportView {
    ImportView {
        from,
        names: names.iter().cloned().collect(),
        types_only: names.iter().all(|(is_type, _)| *is_type),
    }
}

/// `text` as a doc comment, its long lines wrapped at 100 columns.
fn doc_wrapped(text: &str, indent: &str) -> String {
    let width = 100 - indent.len() - 3;
    let mut out = Vec::new();
    for line in in_doc(text).lines() {
        let mut cur = String::new();
        for word in line.split(' ') {
            if !cur.is_empty() && cur.len() + 1 + word.len() > width {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    doc(&out.join("\n"), indent)
}

/// The templates' filters: doc comments and literals.
#[expect(unreachable_pub, reason = "askama's `filter_fn` declares each filter `pub`")]
mod filters {
    use std::fmt::Display;

    /// `text` as a doc comment at `indent`, its long lines wrapped ([`super::doc_wrapped`]).
    #[askama::filter_fn]
    pub(super) fn doc_wrapped<T: Display>(
        text: T,
        _: &dyn askama::Values,
        indent: &str,
    ) -> askama::Result<String> {
        Ok(super::doc_wrapped(&text.to_string(), indent))
    }

    /// `text` as a JavaScript (JSON) string literal.
    #[askama::filter_fn]
    pub(super) fn lit<T: Display>(text: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::lit(&text.to_string()))
    }
}

/// Fails when two generated exports would share a name.
fn check_unique(spec: &Spec, exports: &[String]) -> Result<()> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut taken: Vec<String> =
        ["validate", "ValidationIssue", "Validated", "SchemaValidationError", "ValidateOptions"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
    for k in spec.types.kinds() {
        let n = ts_type_name(k.name());
        if matches!(k, Kind::Struct(_)) {
            taken.extend([format!("validate{n}"), format!("is{n}"), format!("parse{n}"), format!("dump{n}")]);
        }
        if matches!(k, Kind::Enum(_)) {
            taken.extend([format!("{}_VALUES", upper_snake(k.name())), format!("isKnown{n}")]);
        }
        taken.push(n);
    }
    for name in taken.iter().chain(exports) {
        *seen.entry(name.as_str()).or_default() += 1;
    }
    let dup: Vec<&str> = seen.into_iter().filter(|(_, n)| *n > 1).map(|(k, _)| k).collect();
    if !dup.is_empty() {
        bail!(
            "these TypeScript names would be exported twice: {} (rename a schema, message, channel or operation)",
            dup.join(", ")
        );
    }
    Ok(())
}

pub(crate) fn generate(spec: &Spec, options: &Options, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    let pre = preamble("//", &spec.types);
    let mut exports: Vec<String> = Vec::new();

    // Types and validators: the contract emitter over the spec's model.
    let (types, schema) = render_types(
        &spec.types,
        &format!("{}: the payload types of its messages, with their validators.", spec.title),
    )?;

    // Channels.
    let channels: Vec<ChannelView> = spec
        .channels
        .iter()
        .map(|c| {
            let (upper, subject_fn, params_type) = channel_names(c);
            let segments = c
                .segments()
                .iter()
                .map(|s| match s {
                    Segment::Literal(t) => SegmentView::Literal(template_text(t)),
                    Segment::Param(p) => SegmentView::Param {
                        name: lit(p),
                        field: camel(p),
                        allowed: c
                            .params
                            .iter()
                            .find(|x| x.name == *p)
                            .map(|x| x.allowed.iter().map(|a| lit(a)).collect())
                            .unwrap_or_default(),
                    },
                })
                .collect();
            exports.extend([format!("{upper}_ADDRESS"), format!("{upper}_WILDCARD"), subject_fn.clone()]);
            if c.stream.is_some() {
                exports.push(format!("{upper}_STREAM"));
            }
            if !c.params.is_empty() {
                exports.push(params_type.clone());
            }
            ChannelView {
                doc: c.doc.clone(),
                key: c.key.clone(),
                upper,
                address: lit(&c.address),
                address_raw: in_doc(&c.address),
                wildcard: lit(&c.wildcard()),
                stream: c.stream.as_deref().map(lit),
                subject_fn,
                params_type,
                params: c
                    .params
                    .iter()
                    .map(|p| ParamView {
                        doc: p.doc.clone(),
                        field: camel(&p.name),
                        allowed: p.allowed.iter().map(|a| lit(a)).collect(),
                    })
                    .collect(),
                segments,
            }
        })
        .collect();

    // Messages.
    let used = spec.used_messages();
    let mut needs_arrow = false;
    let mut message_type_imports: BTreeSet<(bool, String)> = BTreeSet::new();
    let mut any_wrapper = false;
    let messages: Vec<MessageView> = used
        .iter()
        .map(|m| {
            let names = message_names(m);
            let name_lit = lit(&m.name);
            if let Body::Union { members } = &m.body {
                exports.push(names.codec.clone());
                exports.push(names.ts_type.clone());
                return MessageView {
                    doc: m.doc.clone(),
                    key: m.key.clone(),
                    name: in_doc(&m.name),
                    name_lit,
                    codec: names.codec,
                    ts_type: names.ts_type,
                    payload_type: String::new(),
                    validator: String::new(),
                    headers: Vec::new(),
                    wrapper: None,
                    correlation: None,
                    union: members
                        .iter()
                        .map(|k| {
                            let member = spec.message(k);
                            let n = message_names(member);
                            (lit(&member.name), n.ts_type, n.codec)
                        })
                        .collect(),
                };
            }
            let payload_type = m.body.payload_type().to_owned();
            exports.push(names.codec.clone());
            let headers: Vec<HeaderView> = m
                .headers
                .iter()
                .map(|h| {
                    let (kind, ts_type) = header_kind(h.ty);
                    HeaderView {
                        doc: h.doc.clone(),
                        field: camel(&h.name),
                        name: h.name.clone(),
                        wire: lit(&h.name),
                        kind,
                        ts_type,
                        required: h.required,
                    }
                })
                .collect();
            let wrapper = names.wrapper.then(|| {
                any_wrapper = true;
                exports.push(names.ts_type.clone());
                let headers_type = format!("{}Headers", names.ts_type);
                if !headers.is_empty() {
                    exports.push(headers_type.clone());
                }
                match &m.body {
                    Body::Json { type_name, .. } => {
                        let ty = ts_type_name(type_name);
                        let validator = format!("validate{ty}");
                        message_type_imports.insert((false, validator.clone()));
                        message_type_imports.insert((true, ty.clone()));
                        WrapperView {
                            headers_type,
                            field: "body",
                            field_type: ty.clone(),
                            json: Some(JsonView { ty, validator }),
                        }
                    }
                    Body::Table => {
                        needs_arrow = true;
                        WrapperView {
                            headers_type,
                            field: "table",
                            field_type: "typed.Table".into(),
                            json: None,
                        }
                    }
                    Body::Text => {
                        WrapperView { headers_type, field: "text", field_type: "string".into(), json: None }
                    }
                    Body::Bytes { .. } => WrapperView {
                        headers_type,
                        field: "data",
                        field_type: "Uint8Array".into(),
                        json: None,
                    },
                    Body::Union { .. } => unreachable!("unions returned above"),
                }
            });
            let validator = format!("validate{}", names.ts_type);
            if !names.wrapper {
                message_type_imports.insert((false, validator.clone()));
                message_type_imports.insert((true, names.ts_type.clone()));
            }
            MessageView {
                doc: m.doc.clone(),
                key: m.key.clone(),
                name: in_doc(&m.name),
                name_lit,
                codec: names.codec,
                ts_type: names.ts_type,
                payload_type,
                validator,
                headers,
                wrapper,
                union: Vec::new(),
                correlation: m.correlation.as_ref().map(|c| match c {
                    Correlation::Header(h) => CorrelationView::Header(lit(h)),
                    Correlation::Payload(path) => {
                        CorrelationView::Payload(path.iter().map(|p| lit(p)).collect())
                    }
                }),
            }
        })
        .collect();
    let mut message_client: BTreeSet<(bool, String)> = BTreeSet::new();
    message_client.insert((true, "MessageCodec".into()));
    message_client.insert((false, "typed".into()));
    if any_wrapper {
        message_client.insert((true, "Received".into()));
    }

    // Operations.
    let mut op_client: BTreeSet<(bool, String)> = BTreeSet::new();
    let mut op_channels: BTreeSet<(bool, String)> = BTreeSet::new();
    let mut op_codecs: BTreeSet<(bool, String)> = BTreeSet::new();
    let mut op_types: BTreeSet<(bool, String)> = BTreeSet::new();
    op_client.insert((false, "typed".into()));
    op_client.insert((true, "Bridge".into()));
    let mut operations = Vec::new();
    for o in &spec.operations {
        let c = spec.channel(&o.channel);
        let (upper, subject_fn, params_type) = channel_names(c);
        let m = spec.message(&o.message);
        let names = message_names(m);
        let mut use_type = |n: &MessageNames| {
            if n.wrapper {
                op_codecs.insert((true, n.ts_type.clone()));
            } else {
                op_types.insert((true, n.ts_type.clone()));
            }
            op_codecs.insert((false, n.codec.clone()));
        };
        use_type(&names);
        let reply = o.reply.as_deref().map(|r| spec.message(r));
        let reply_names = reply.map(message_names);
        if let Some(r) = &reply_names {
            use_type(r);
        }
        let receiving = matches!(o.kind, OpKind::Subscribe | OpKind::Serve | OpKind::StreamConsume);
        op_channels.insert((false, subject_fn.clone()));
        if !c.params.is_empty() {
            op_channels.insert((true, params_type.clone()));
        }
        let kind = match o.kind {
            OpKind::Publish => "publish",
            OpKind::Request => "request",
            OpKind::StreamPublish => "stream-publish",
            OpKind::Subscribe => "subscribe",
            OpKind::Serve => "serve",
            OpKind::StreamConsume => "stream-consume",
        };
        match o.kind {
            OpKind::Publish | OpKind::StreamPublish => {
                op_client.insert((true, "SendOverrides".into()));
                op_client.insert((true, "Sent".into()));
            }
            OpKind::Request => {
                op_client.insert((true, "SendOverrides".into()));
                op_client.insert((true, "Incoming".into()));
            }
            OpKind::Subscribe => {
                op_client.insert((true, "SubscribeOptions".into()));
                op_client.insert((true, "Subscription".into()));
            }
            OpKind::Serve => {
                op_client.extend(
                    ["SubscribeOptions", "Subscription", "SendOverrides", "Sent", "Incoming"]
                        .map(|s| (true, s.to_owned())),
                );
            }
            OpKind::StreamConsume => {
                op_client.insert((true, "ConsumerOptions".into()));
                op_client.insert((true, "Replay".into()));
                op_channels.insert((false, format!("{upper}_STREAM")));
            }
        }
        let name = js_ident(o.camel.clone());
        exports.push(name.clone());
        if o.kind == OpKind::Serve {
            exports.push(format!("{name}Reply"));
        }
        let reply_name = reply.map(|r| r.name.clone()).unwrap_or_default();
        operations.push(OpView {
            doc: o.doc.clone(),
            kind,
            name,
            message_name: m.name.clone(),
            address: c.address.clone(),
            stream_name: c.stream.clone().unwrap_or_default(),
            queue_name: o.queue.clone().unwrap_or_default(),
            has_params: !c.params.is_empty(),
            receiving,
            params_type,
            subject_fn,
            message_type: names.ts_type.clone(),
            reply_type: reply_names.as_ref().map(|r| r.ts_type.clone()).unwrap_or_default(),
            reply_name: in_doc(&reply_name),
            codec: names.codec.clone(),
            reply_codec: reply_names.as_ref().map(|r| r.codec.clone()).unwrap_or_default(),
            purpose: lit(&o.purpose),
            queue: o.queue.as_deref().map(lit),
            stream: format!("{upper}_STREAM"),
        });
    }
    check_unique(spec, &exports)?;

    let title = in_doc(&spec.title);
    let mut files = vec![
        GeneratedFile::new(
            format!("{out_dir}/package.json"),
            PackageView {
                comment: lit(pre.trim_start_matches("//").trim()),
                name: lit(options.name("typescript")),
                version: lit(&options.version),
                title: spec.title.clone(),
                source: spec.source.clone(),
                license: spec.license.as_deref().map(lit),
                runtime: lit(&options.typescript_runtime),
                needs_arrow,
                arrow_version: ARROW_VERSION,
            }
            .render()?,
        ),
        GeneratedFile::new(
            format!("{out_dir}/tsconfig.json"),
            TsconfigView { preamble: pre.clone() }.render()?,
        ),
        GeneratedFile::new(
            format!("{out_dir}/src/index.ts"),
            IndexView {
                preamble: pre.clone(),
                title: title.clone(),
                version: in_doc(&options.version),
                source: in_doc(&spec.source),
                description: if spec.description.is_empty() {
                    Vec::new()
                } else {
                    std::iter::once(String::new())
                        .chain(spec.description.lines().map(|l| in_doc(l.trim_end())))
                        .collect()
                },
            }
            .render()?,
        ),
        GeneratedFile::new(format!("{out_dir}/src/types.ts"), types),
        GeneratedFile::new(format!("{out_dir}/src/schema.ts"), schema),
        GeneratedFile::new(
            format!("{out_dir}/src/channels.ts"),
            ChannelsView { preamble: pre.clone(), title: title.clone(), channels }.render()?,
        ),
        GeneratedFile::new(
            format!("{out_dir}/src/messages.ts"),
            MessagesView {
                preamble: pre.clone(),
                title: title.clone(),
                client_imports: import(&message_client, "@natsbridge/client"),
                type_imports: import(&message_type_imports, "./types.js"),
                messages,
            }
            .render()?,
        ),
        GeneratedFile::new(
            format!("{out_dir}/src/operations.ts"),
            OperationsView {
                preamble: pre,
                title,
                client_imports: import(&op_client, "@natsbridge/client"),
                channel_imports: import(&op_channels, "./channels.js"),
                codec_imports: import(&op_codecs, "./messages.js"),
                type_imports: import(&op_types, "./types.js"),
                operations,
            }
            .render()?,
        ),
    ];
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}
