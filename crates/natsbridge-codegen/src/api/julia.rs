//! Julia output of a team's spec: the payload types (the contract's Julia renderer), the
//! subject builders, the messages that are more than a JSON value, and each operation
//! declared with its documented signature. No Julia runs on the build machines: the
//! output is syntax-checked with tree-sitter-julia, not run.

use anyhow::Result;
use askama::Template;
use sha2::{Digest, Sha256};

use super::{Body, OpKind, Options, Scalar, Segment, Spec};
use crate::julia::{jl_doc, render_module};
use crate::names::{pascal, snake, upper_snake};
use crate::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "api/julia/Project.toml", escape = "none")]
struct ProjectView {
    preamble: String,
    name: String,
    uuid: String,
    version: String,
}

#[derive(Template)]
#[template(path = "api/julia/Module.jl", escape = "none")]
struct ModuleView {
    preamble: String,
    module: String,
    title: String,
    version: String,
    source: String,
    channels: Vec<ChannelView>,
    messages: Vec<MessageView>,
    ops: Vec<OpView>,
}

struct ChannelView {
    address: String,
    doc: String,
    upper: String,
    ident: String,
    wildcard: String,
    args: String,
    concat: String,
}

struct MessageView {
    key: String,
    name: String,
    dataname: String,
    payload_type: String,
    field: String,
    field_ty: String,
    headers: Vec<(String, String)>,
}

struct OpView {
    key: String,
    message: String,
    reply: String,
    /// `handle_command_reply`, for operations that answer.
    reply_ident: Option<String>,
    ident: String,
    doc: String,
    what: String,
    signature: String,
}

/// A stable UUID for the package, from its name (Julia packages need one).
fn package_uuid(name: &str) -> String {
    let h = Sha256::digest(format!("natsbridge-codegen julia package {name}").as_bytes());
    let mut b: [u8; 16] = h[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn message_type(spec: &Spec, key: &str) -> String {
    let m = spec.message(key);
    pascal(m.plain_json().unwrap_or(&m.type_name))
}

pub(crate) fn generate(spec: &Spec, options: &Options, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    let model = &spec.types;
    let module = options.name("julia").to_owned();
    let payloads = render_module(model, "Payloads", &format!("{} message payloads", spec.title))?;
    let channels = spec
        .channels
        .iter()
        .map(|c| {
            let params: Vec<String> = c.params.iter().map(|p| snake(&p.name)).collect();
            let concat = c
                .segments()
                .iter()
                .map(|s| match s {
                    Segment::Literal(t) => format!("{:?}", jl_doc(t)),
                    Segment::Param(p) => format!("check_token({p:?}, {}, wildcard_ok)", snake(p)),
                })
                .collect::<Vec<_>>()
                .join(", ");
            ChannelView {
                address: jl_doc(&c.address),
                doc: jl_doc(&c.doc),
                upper: upper_snake(&c.key),
                ident: snake(&c.key),
                wildcard: c.wildcard(),
                args: params.iter().map(|p| format!("{p}::AbstractString")).collect::<Vec<_>>().join(", "),
                concat,
            }
        })
        .collect();
    let messages = spec
        .used_messages()
        .into_iter()
        .filter(|m| m.plain_json().is_none())
        .map(|m| {
            let (field, field_ty) = match &m.body {
                Body::Json { type_name, .. } => ("payload", pascal(type_name)),
                Body::Table => ("table", "Vector{UInt8}".to_owned()),
                Body::Text => ("text", "String".to_owned()),
                Body::Bytes { .. } => ("data", "Vector{UInt8}".to_owned()),
                // One of several messages: the value of whichever it is.
                Body::Union { .. } => ("value", "Any".to_owned()),
            };
            let headers = m
                .headers
                .iter()
                .map(|h| {
                    let base = match h.ty {
                        Scalar::String => "String",
                        Scalar::Integer { .. } => "Int64",
                        Scalar::Number => "Float64",
                        Scalar::Boolean => "Bool",
                    };
                    let ty = if h.required { base.to_owned() } else { format!("Union{{Nothing,{base}}}") };
                    (snake(&h.field), ty)
                })
                .collect();
            MessageView {
                key: m.key.clone(),
                name: pascal(&m.type_name),
                dataname: m.name.clone(),
                payload_type: m.body.payload_type().to_owned(),
                field: field.to_owned(),
                field_ty,
                headers,
            }
        })
        .collect();
    let ops = spec
        .operations
        .iter()
        .map(|o| {
            let c = spec.channel(&o.channel);
            let params: String =
                c.params.iter().map(|p| format!(", {}::AbstractString", snake(&p.name))).collect();
            let message = message_type(spec, &o.message);
            let reply = o.reply.as_deref().map(|r| message_type(spec, r)).unwrap_or_default();
            let ident = snake(&o.key);
            let (signature, what) = match o.kind {
                OpKind::Publish => {
                    (format!("{ident}(bridge{params}, message::{message})"), "Publishes on the subject.")
                }
                OpKind::Request => (
                    format!("{ident}(bridge{params}, message::{message}) -> Incoming{{{reply}}}"),
                    "Sends a request and waits for the typed reply.",
                ),
                OpKind::StreamPublish => (
                    format!("{ident}(bridge{params}, message::{message})"),
                    "Publishes into the JetStream stream, acknowledged.",
                ),
                OpKind::Subscribe => {
                    (format!("{ident}(bridge{params}) -> Channel{{Incoming{{{message}}}}}"), "Subscribes.")
                }
                OpKind::Serve => (
                    format!("{ident}(bridge{params}) -> Channel{{Incoming{{{message}}}}}"),
                    "Subscribes; each message is answered with the typed reply.",
                ),
                OpKind::StreamConsume => (
                    format!("{ident}(bridge{params}; start) -> Channel{{Stored{{{message}}}}}"),
                    "Replays the JetStream stream with a pull consumer.",
                ),
            };
            OpView {
                key: o.key.clone(),
                reply_ident: (o.kind == OpKind::Serve).then(|| format!("{ident}_reply")),
                message,
                reply,
                ident,
                doc: jl_doc(&o.doc),
                what: what.to_owned(),
                signature,
            }
        })
        .collect();
    let view = ModuleView {
        preamble: preamble("#", model),
        module: module.clone(),
        title: jl_doc(&spec.title),
        version: options.version.clone(),
        source: spec.source.clone(),
        channels,
        messages,
        ops,
    };
    let project = ProjectView {
        preamble: preamble("#", model),
        name: module.clone(),
        uuid: package_uuid(&module),
        version: options.version.clone(),
    };
    Ok(vec![
        GeneratedFile::new(format!("{out_dir}/Project.toml"), project.render()?),
        GeneratedFile::new(format!("{out_dir}/src/{module}.jl"), view.render()?),
        GeneratedFile::new(format!("{out_dir}/src/Payloads.jl"), payloads),
    ])
}
