//! Rust output of a team's spec: a crate with the payload types (typify, as for the
//! contract), the subjects, the messages as `natsbridge::typed::Message`s and one async
//! function per operation.

use anyhow::{Context, Result, bail};
use askama::Template;

use super::{Body, Channel, Correlation, Message, OpKind, Options, Scalar, Segment, Spec};
use crate::names::{rust_ident, rust_type_name, snake, upper_snake};
use crate::rust::format_rust;
use crate::{GeneratedFile, Rustfmt, preamble};

#[derive(Template)]
#[template(path = "api/rust/Cargo.toml.in", escape = "none")]
struct ManifestView {
    preamble: String,
    name: String,
    description: String,
    version: String,
    license: Option<String>,
    runtime: String,
    has_patterns: bool,
}

#[derive(Template)]
#[template(path = "api/rust/lib.rs", escape = "none")]
struct LibView {
    preamble: String,
    title: String,
    version: String,
    source: String,
    description: String,
    schema_types: String,
    example: String,
    hash: String,
    /// The enum types a reader keeps open (`enum` dropped when reading), as Rust string
    /// literals.
    open_enums: String,
}

#[derive(Template)]
#[template(path = "api/rust/channels.rs", escape = "none")]
struct ChannelsView {
    preamble: String,
    channels: Vec<ChannelView>,
}

struct ChannelView {
    address: String,
    doc: String,
    upper: String,
    ident: String,
    wildcard: String,
    stream: Option<String>,
    params: Vec<ParamView>,
    /// `service: &str, device: &str`
    args: String,
    /// The address with each parameter as `{}`.
    format: String,
}

struct ParamView {
    name: String,
    ident: String,
    doc: String,
    /// The values it may take, as a Rust slice (`&["a", "b"]`); empty: any token.
    allowed: String,
}

struct UnionVariant {
    /// The message's `dataname`.
    name: String,
    variant: String,
    /// The message's Rust type path.
    ty: String,
}

#[derive(Template)]
#[template(path = "api/rust/messages.rs", escape = "none")]
struct MessagesView {
    preamble: String,
    messages: Vec<MessageView>,
}

struct MessageView {
    key: String,
    name: String,
    doc: String,
    payload_type: String,
    payload_variant: String,
    /// A JSON value without headers: `Message` is implemented on the payload type itself.
    json_only: bool,
    /// The schema type of a JSON body (`Command`), checked by `crate::check`.
    schema_type: String,
    ty: String,
    headers: Vec<HeaderView>,
    field: String,
    field_ty: String,
    encode: String,
    decode_pattern: String,
    decode_value: String,
    /// The messages of a union (empty for any other message).
    union: Vec<UnionVariant>,
    /// The body of `Message::correlation`, when the message declares where its correlation
    /// id is (for a union: when one of its messages does).
    correlation: Option<String>,
}

struct HeaderView {
    name: String,
    ident: String,
    ty: String,
    required: bool,
    doc: String,
}

#[derive(Template)]
#[template(path = "api/rust/operations.rs", escape = "none")]
struct OperationsView {
    preamble: String,
    ops: Vec<OpView>,
}

struct OpView {
    key: String,
    doc: String,
    what: String,
    kind: String,
    ident: String,
    channel: String,
    upper_channel: String,
    /// `service: &str, ` (before the message argument).
    args: String,
    /// `, service: &str` (after the bridge, when there is no message argument).
    args_tail: String,
    /// `service`
    call: String,
    message: String,
    reply: String,
    purpose: String,
    queue: String,
}

/// The Rust type a message is read and written as.
pub(crate) fn message_type(m: &Message) -> String {
    rust_type_name(m.plain_json().unwrap_or(&m.type_name))
}

fn payload_variant(payload_type: &str) -> String {
    rust_type_name(payload_type)
}

fn header_type(ty: Scalar, required: bool) -> String {
    let base = match ty {
        Scalar::String => "String",
        Scalar::Integer { unsigned: true } => "u64",
        Scalar::Integer { unsigned: false } => "i64",
        Scalar::Number => "f64",
        Scalar::Boolean => "bool",
    };
    if required { base.to_owned() } else { format!("Option<{base}>") }
}

fn channel_view(c: &Channel) -> ChannelView {
    let format = c
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Literal(t) => t.replace('{', "{{").replace('}', "}}"),
            Segment::Param(_) => "{}".to_owned(),
        })
        .collect();
    let params: Vec<ParamView> = c
        .params
        .iter()
        .map(|p| ParamView {
            name: p.name.clone(),
            ident: rust_ident(&p.name),
            doc: rdoc(&p.doc),
            allowed: if p.allowed.is_empty() {
                String::new()
            } else {
                format!("&[{}]", p.allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", "))
            },
        })
        .collect();
    ChannelView {
        address: c.address.clone(),
        doc: rdoc(&c.doc),
        upper: upper_snake(&c.key),
        ident: rust_ident(&c.key),
        wildcard: c.wildcard(),
        stream: c.stream.clone(),
        args: params.iter().map(|p| format!("{}: &str", p.ident)).collect::<Vec<_>>().join(", "),
        params,
        format,
    }
}

/// `text` continued on every line of a `///` comment.
fn rdoc(text: &str) -> String {
    text.replace('\n', "\n/// ")
}

fn message_view(spec: &Spec, m: &Message) -> MessageView {
    let ty = message_type(m);
    let json_only = m.plain_json().is_some();
    let payload_type = m.body.payload_type().to_owned();
    let variant = payload_variant(&payload_type);
    let (field, field_ty, encode, decode_pattern, decode_value) = match &m.body {
        Body::Json { type_name, .. } => (
            "payload".to_owned(),
            format!("crate::{}", rust_type_name(type_name)),
            format!(
                "typed::encode_json(Self::NAME, &self.payload, |v, r| crate::check({type_name:?}, v, r))?"
            ),
            "natsbridge::Payload::Dictionary(_)".to_owned(),
            format!("typed::decode_json(received, Self::NAME, |v, r| crate::check({type_name:?}, v, r))?"),
        ),
        Body::Table => (
            "table".to_owned(),
            "natsbridge::Table".to_owned(),
            "natsbridge::Payload::ArrowTable(self.table.clone())".to_owned(),
            "natsbridge::Payload::ArrowTable(table)".to_owned(),
            "table.clone()".to_owned(),
        ),
        Body::Text => (
            "text".to_owned(),
            "String".to_owned(),
            "natsbridge::Payload::Text(self.text.clone())".to_owned(),
            "natsbridge::Payload::Text(text)".to_owned(),
            "text.clone()".to_owned(),
        ),
        Body::Bytes { .. } => (
            "data".to_owned(),
            "natsbridge::bytes::Bytes".to_owned(),
            format!("natsbridge::Payload::{variant}(self.data.clone())"),
            format!("natsbridge::Payload::{variant}(data)"),
            "data.clone()".to_owned(),
        ),
        Body::Union { .. } => Default::default(),
    };
    let union = match &m.body {
        Body::Union { members } => members
            .iter()
            .map(|k| {
                let member = spec.message(k);
                UnionVariant {
                    name: member.name.clone(),
                    variant: rust_type_name(&member.key),
                    ty: format!("crate::{}", path_of(member)),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    MessageView {
        key: m.key.clone(),
        name: m.name.clone(),
        doc: rdoc(&m.doc),
        payload_type,
        payload_variant: variant,
        json_only,
        schema_type: match &m.body {
            Body::Json { type_name, .. } => type_name.clone(),
            _ => String::new(),
        },
        ty,
        headers: m
            .headers
            .iter()
            .map(|h| HeaderView {
                name: h.name.clone(),
                ident: rust_ident(&h.field),
                ty: header_type(h.ty, h.required),
                required: h.required,
                doc: rdoc(&h.doc),
            })
            .collect(),
        field,
        field_ty,
        encode,
        decode_pattern,
        decode_value,
        correlation: correlation_body(spec, m),
        union,
    }
}

/// The body of a message's `Message::correlation`.
fn correlation_body(spec: &Spec, m: &Message) -> Option<String> {
    let pointer = |path: &[String]| {
        path.iter().map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1"))).collect::<String>()
    };
    match (&m.body, &m.correlation) {
        (Body::Union { members }, _) => members
            .iter()
            .any(|k| spec.message(k).correlation.is_some())
            // The template dispatches to the variants.
            .then(String::new),
        (_, Some(Correlation::Header(name))) => Some(format!("typed::Correlation::Header({name:?})")),
        (_, Some(Correlation::Payload(path))) if m.plain_json().is_some() => {
            Some(format!("typed::payload_correlation(self, {:?})", pointer(path)))
        }
        (_, Some(Correlation::Payload(path))) => {
            Some(format!("typed::payload_correlation(&self.payload, {:?})", pointer(path)))
        }
        (_, None) => None,
    }
}

fn op_view(spec: &Spec, o: &super::Operation) -> OpView {
    let c = spec.channel(&o.channel);
    let idents: Vec<String> = c.params.iter().map(|p| rust_ident(&p.name)).collect();
    let typed_args: Vec<String> = idents.iter().map(|i| format!("{i}: &str")).collect();
    let message = format!("crate::{}", path_of(spec.message(&o.message)));
    let reply =
        o.reply.as_deref().map(|r| format!("crate::{}", path_of(spec.message(r)))).unwrap_or_default();
    let (kind, what) = match o.kind {
        OpKind::Publish => ("publish", format!("Publishes on `{}`.", c.address)),
        OpKind::Request => (
            "request",
            format!(
                "Sends a request on `{}` and waits for the [`{}`] reply (the bridge's timeout).",
                c.address, reply
            ),
        ),
        OpKind::StreamPublish => (
            "stream_publish",
            format!(
                "Publishes on `{}` into the JetStream stream `{}`, acknowledged.",
                c.address,
                c.stream.as_deref().unwrap_or_default()
            ),
        ),
        OpKind::Subscribe => {
            ("subscribe", format!("Subscribes to `{}` (a parameter may be `*`).", c.address))
        }
        OpKind::Serve => (
            "serve",
            format!(
                "Subscribes to `{}` (a parameter may be `*`); answer each message with [`{}_reply`].",
                c.address,
                snake(&o.key)
            ),
        ),
        OpKind::StreamConsume => (
            "stream_consume",
            format!(
                "Replays `{}` from the JetStream stream `{}` (a parameter may be `*`).",
                c.address,
                c.stream.as_deref().unwrap_or_default()
            ),
        ),
    };
    OpView {
        key: o.key.clone(),
        doc: rdoc(&o.doc),
        what,
        kind: kind.to_owned(),
        ident: rust_ident(&o.key),
        channel: rust_ident(&c.key),
        upper_channel: upper_snake(&c.key),
        args: typed_args.iter().map(|a| format!("{a}, ")).collect(),
        args_tail: typed_args.iter().map(|a| format!(", {a}")).collect(),
        call: idents.join(", "),
        message,
        reply,
        purpose: o.purpose.clone(),
        queue: o.queue.as_ref().map_or_else(|| "None".to_owned(), |q| format!("Some({q:?})")),
    }
}

fn doc_comment(text: &str) -> String {
    text.lines()
        .map(|l| if l.is_empty() { "//!".to_owned() } else { format!("//! {l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A short usage example for the crate docs: the first request, else the first operation.
fn example(spec: &Spec, crate_ident: &str) -> String {
    let op = spec.operations.iter().find(|o| o.kind == OpKind::Request).or(spec.operations.first());
    let mut lines = vec![
        format!("//! # async fn demo() -> natsbridge::Result<()> {{"),
        format!(
            "//! let bridge = {crate_ident}::Bridge::new(natsbridge::connect(\"nats://localhost:4222\").await?);"
        ),
    ];
    if let Some(o) = op {
        let c = spec.channel(&o.channel);
        let args: String = c.params.iter().map(|p| format!("\"{}\", ", p.name)).collect();
        let m = spec.message(&o.message);
        lines.push(format!("//! # let message: {crate_ident}::{} = todo!();", path_of(m)));
        let call = match o.kind {
            OpKind::Publish | OpKind::Request | OpKind::StreamPublish => {
                format!("{crate_ident}::operations::{}(&bridge, {args}&message).await?;", rust_ident(&o.key))
            }
            _ => format!(
                "{crate_ident}::operations::{}(&bridge, {}).await?;",
                rust_ident(&o.key),
                args.trim_end_matches(", ")
            ),
        };
        lines.push(format!("//! let _ = {call}"));
    }
    lines.push("//! # Ok(()) }".to_owned());
    lines.join("\n")
}

/// Where a message's Rust type lives, relative to the crate root.
fn path_of(m: &Message) -> String {
    let ty = message_type(m);
    if m.plain_json().is_some() { ty } else { format!("messages::{ty}") }
}

pub(crate) fn generate(
    spec: &Spec,
    options: &Options,
    rustfmt: &Rustfmt,
    out_dir: &str,
) -> Result<Vec<GeneratedFile>> {
    let model = &spec.types;
    let pre = preamble("//", model);
    let name = options.name("rust").to_owned();
    let crate_ident = name.replace('-', "_");

    // The payload types: exactly what the contract's crate has, under src/.
    let mut files = Vec::new();
    for f in crate::rust::generate(model, None, out_dir, rustfmt).context("payload types")? {
        let rel = f.path.strip_prefix(out_dir).unwrap_or(&f.path);
        if ["/src/types.rs", "/src/scalars.rs", "/src/schema.json"].contains(&rel) {
            files.push(f);
        }
    }
    let has_patterns = files.iter().any(|f| f.path.ends_with("scalars.rs") && f.contents.contains("regress"));

    let manifest = ManifestView {
        preamble: preamble("#", model),
        name: name.clone(),
        description: format!("{} {}: typed NATSBridge operations (generated)", spec.title, spec.version),
        version: options.version.clone(),
        license: spec.license.clone(),
        runtime: options.rust_runtime.clone(),
        has_patterns,
    }
    .render()?;
    files.push(GeneratedFile::new(format!("{out_dir}/Cargo.toml"), manifest));

    let lib = LibView {
        preamble: pre.clone(),
        title: spec.title.clone(),
        version: spec.version.clone(),
        source: spec.source.clone(),
        description: doc_comment(&spec.description),
        schema_types: model.structs().iter().map(|s| rust_type_name(s.name)).collect::<Vec<_>>().join("`, `"),
        example: example(spec, &crate_ident),
        hash: spec.hash.clone(),
        open_enums: model.open_enums().iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "),
    }
    .render()?;
    files.push(GeneratedFile::new(
        format!("{out_dir}/src/lib.rs"),
        format_rust(rustfmt, &lib).context("lib.rs")?,
    ));

    let channels =
        ChannelsView { preamble: pre.clone(), channels: spec.channels.iter().map(channel_view).collect() };
    files.push(GeneratedFile::new(
        format!("{out_dir}/src/channels.rs"),
        format_rust(rustfmt, &channels.render()?).context("channels.rs")?,
    ));

    let used = spec.used_messages();
    let messages = MessagesView {
        preamble: pre.clone(),
        messages: used.iter().map(|m| message_view(spec, m)).collect(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for m in &messages.messages {
        if !seen.insert(m.ty.clone()) {
            bail!("two messages are both `{}`: give each message its own payload schema", m.ty);
        }
    }
    files.push(GeneratedFile::new(
        format!("{out_dir}/src/messages.rs"),
        format_rust(rustfmt, &messages.render()?).context("messages.rs")?,
    ));

    let ops =
        OperationsView { preamble: pre, ops: spec.operations.iter().map(|o| op_view(spec, o)).collect() };
    files.push(GeneratedFile::new(
        format!("{out_dir}/src/operations.rs"),
        format_rust(rustfmt, &ops.render()?).context("operations.rs")?,
    ));
    Ok(files)
}
