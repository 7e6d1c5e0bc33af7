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
    description: String,
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
    doc: String,
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
    /// The subject as a template literal over `params` and `w`.
    template: String,
}

struct ParamView {
    doc: String,
    field: String,
    /// `string`, or the union of the parameter's `enum` values.
    ty: String,
}

#[derive(Template)]
#[template(path = "api/typescript/src/messages.ts", escape = "none")]
struct MessagesView {
    preamble: String,
    title: String,
    client_imports: String,
    type_imports: String,
    messages: Vec<MessageView>,
}

struct MessageView {
    doc: String,
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
    /// Where the message declares its correlation id, as a `typed.Correlation` literal; empty
    /// when it does not.
    correlation: String,
}

struct HeaderView {
    doc: String,
    field: String,
    wire: String,
    kind: &'static str,
    ts_type: &'static str,
    required: bool,
}

struct WrapperView {
    headers_type: String,
    field: &'static str,
    field_type: String,
    encode: String,
    decode: String,
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
    client_imports: String,
    channel_imports: String,
    codec_imports: String,
    type_imports: String,
    operations: Vec<OpView>,
}

struct OpView {
    doc: String,
    kind: &'static str,
    name: String,
    params_arg: String,
    message_type: String,
    reply_type: String,
    reply_name: String,
    codec: String,
    reply_codec: String,
    subject: String,
    purpose: String,
    subscribe_defaults: String,
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

/// `import { a, type B } from "from";` (values first, then types, each sorted), or
/// `import type { .. }` when every name is a type; empty for no names.
fn import(names: &BTreeSet<(bool, String)>, from: &str) -> String {
    if names.is_empty() {
        return String::new();
    }
    if names.iter().all(|(is_type, _)| *is_type) {
        let list = names.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ");
        return format!("import type {{ {list} }} from \"{from}\";");
    }
    let list = names
        .iter()
        .map(|(is_type, n)| if *is_type { format!("type {n}") } else { n.clone() })
        .collect::<Vec<_>>()
        .join(", ");
    format!("import {{ {list} }} from \"{from}\";")
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
            let template = format!(
                "`{}`",
                c.segments()
                    .iter()
                    .map(|s| match s {
                        Segment::Literal(t) => template_text(t),
                        Segment::Param(p) => match c.params.iter().find(|x| x.name == *p) {
                            Some(x) if !x.allowed.is_empty() => format!(
                                "${{typed.tokenOf({}, params.{}, [{}], w)}}",
                                lit(p),
                                camel(p),
                                x.allowed.iter().map(|a| lit(a)).collect::<Vec<_>>().join(", ")
                            ),
                            _ => format!("${{typed.token({}, params.{}, w)}}", lit(p), camel(p)),
                        },
                    })
                    .collect::<String>()
            );
            let mut text = c.doc.clone();
            if text.is_empty() {
                text = format!("The `{}` channel.", c.key);
            }
            exports.extend([format!("{upper}_ADDRESS"), format!("{upper}_WILDCARD"), subject_fn.clone()]);
            if c.stream.is_some() {
                exports.push(format!("{upper}_STREAM"));
            }
            if !c.params.is_empty() {
                exports.push(params_type.clone());
            }
            ChannelView {
                doc: doc_wrapped(&text, ""),
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
                        doc: doc_wrapped(&p.doc, "  "),
                        field: camel(&p.name),
                        ty: if p.allowed.is_empty() {
                            "string".to_owned()
                        } else {
                            p.allowed.iter().map(|a| lit(a)).collect::<Vec<_>>().join(" | ")
                        },
                    })
                    .collect(),
                template,
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
                    doc: doc_wrapped(&m.doc, ""),
                    name: in_doc(&m.name),
                    name_lit,
                    codec: names.codec,
                    ts_type: names.ts_type,
                    payload_type: String::new(),
                    validator: String::new(),
                    headers: Vec::new(),
                    wrapper: None,
                    correlation: String::new(),
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
            let mut text = if m.doc.is_empty() { format!("The `{}` message.", m.key) } else { m.doc.clone() };
            text.push_str(&format!("\n\nTravels as the `{payload_type}` payload `{}`.", m.name));
            exports.push(names.codec.clone());
            let headers: Vec<HeaderView> = m
                .headers
                .iter()
                .map(|h| {
                    let (kind, ts_type) = header_kind(h.ty);
                    let mut text = h.doc.clone();
                    text.push_str(&format!(
                        "{}NATS header `{}`.",
                        if text.is_empty() { "" } else { "\n\n" },
                        h.name
                    ));
                    HeaderView {
                        doc: doc_wrapped(&text, "  "),
                        field: camel(&h.name),
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
                let payload = |field: &str| format!("[{name_lit}, message.{field}, \"{payload_type}\"]");
                let take = format!("typed.payloadOf(received, {name_lit}, \"{payload_type}\")");
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
                            encode: format!("{}Body.encode(message.body).payload", names.codec),
                            decode: format!("{}Body.decode(received)", names.codec),
                            json: Some(JsonView { ty, validator }),
                        }
                    }
                    Body::Table => {
                        needs_arrow = true;
                        WrapperView {
                            headers_type,
                            field: "table",
                            field_type: "typed.Table".into(),
                            encode: payload("table"),
                            decode: take,
                            json: None,
                        }
                    }
                    Body::Text => WrapperView {
                        headers_type,
                        field: "text",
                        field_type: "string".into(),
                        encode: payload("text"),
                        decode: take,
                        json: None,
                    },
                    Body::Bytes { .. } => WrapperView {
                        headers_type,
                        field: "data",
                        field_type: "Uint8Array".into(),
                        encode: payload("data"),
                        decode: take,
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
                doc: doc_wrapped(&text, ""),
                name: in_doc(&m.name),
                name_lit,
                codec: names.codec,
                ts_type: names.ts_type,
                payload_type,
                validator,
                headers,
                wrapper,
                union: Vec::new(),
                correlation: match &m.correlation {
                    None => String::new(),
                    Some(Correlation::Header(h)) => format!("{{ header: {} }}", lit(h)),
                    Some(Correlation::Payload(path)) => {
                        format!(
                            "{{ payload: [{}] }}",
                            path.iter().map(|p| lit(p)).collect::<Vec<_>>().join(", ")
                        )
                    }
                },
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
        let (params_arg, subject) = if c.params.is_empty() {
            (String::new(), format!("{subject_fn}()"))
        } else {
            op_channels.insert((true, params_type.clone()));
            let subject = if receiving {
                format!("{subject_fn}(params, {{ wildcard: true }})")
            } else {
                format!("{subject_fn}(params)")
            };
            (format!("params: {params_type}, "), subject)
        };
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
        let mut subscribe_defaults = String::new();
        if let Some(q) = &o.queue {
            subscribe_defaults.push_str(&format!("queue: {}, ", lit(q)));
        }
        if o.kind == OpKind::Serve {
            subscribe_defaults.push_str("answerErrors: true, ");
        }
        let name = js_ident(o.camel.clone());
        exports.push(name.clone());
        if o.kind == OpKind::Serve {
            exports.push(format!("{name}Reply"));
        }
        let reply_name = reply.map(|r| r.name.clone()).unwrap_or_default();
        let address = format!("`{}`", c.address);
        let wild = if c.params.is_empty() { "" } else { " (a parameter may be `*`)" };
        let what = match o.kind {
            OpKind::Publish => format!("Publishes `{}` on {address}.", m.name),
            OpKind::Request => {
                format!(
                    "Sends `{}` as a request on {address} and resolves with the reply `{reply_name}`.",
                    m.name
                )
            }
            OpKind::StreamPublish => format!(
                "Publishes `{}` on {address} into the JetStream stream `{}` and resolves once it is acknowledged.",
                m.name,
                c.stream.as_deref().unwrap_or_default()
            ),
            OpKind::Subscribe => format!("Subscribes to `{}` on {address}{wild}.", m.name),
            OpKind::Serve => format!(
                "Subscribes to the requests `{}` on {address}{wild}{}; answer each with \
                 `{name}Reply`. A request that cannot be decoded is answered with an `error_response_v1`.",
                m.name,
                o.queue.as_deref().map(|q| format!(" in the queue group `{q}`")).unwrap_or_default(),
            ),
            OpKind::StreamConsume => format!(
                "Replays `{}` from the JetStream stream `{}` (subjects {address}) with a pull consumer{}.",
                m.name,
                c.stream.as_deref().unwrap_or_default(),
                if c.params.is_empty() { "" } else { "; a parameter may be `*`" },
            ),
        };
        let text = if o.doc.is_empty() { what } else { format!("{}\n\n{what}", o.doc) };
        operations.push(OpView {
            doc: doc_wrapped(&text, ""),
            kind,
            name,
            params_arg,
            message_type: names.ts_type.clone(),
            reply_type: reply_names.as_ref().map(|r| r.ts_type.clone()).unwrap_or_default(),
            reply_name: in_doc(&reply_name),
            codec: names.codec.clone(),
            reply_codec: reply_names.as_ref().map(|r| r.codec.clone()).unwrap_or_default(),
            subject,
            purpose: lit(&o.purpose),
            subscribe_defaults,
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
                description: lit(&format!(
                    "{}: typed NATS operations over NATSBridge, generated from {}",
                    spec.title, spec.source
                )),
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
