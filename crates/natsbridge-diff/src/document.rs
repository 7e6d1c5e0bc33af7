//! A team's AsyncAPI document, read by the generator's own loader
//! ([`natsbridge_codegen::api::Spec`]) and judged **per operation**: its channel (address,
//! parameters, stream), its messages (payload type, payload schema, headers, correlation
//! id) and its reply. What `natsbridge codegen` accepts, this judges; what it refuses,
//! this cannot judge either (the same error, by JSON pointer).
//!
//! Operations are matched by key, then by what they do on the wire (same subject, same
//! action, same messages): a renamed operation changes generated function names, not the
//! wire. Messages are matched by `name` (the envelope's `dataname`), types by following
//! `$ref`s, so a schema moved or renamed in the document is judged by what it says.
//! Channels no operation uses are not judged: nothing sends or receives on them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use natsbridge_codegen::api::{
    Body, Correlation, Header, LoadOptions, Message, OpKind, Operation, Scalar, Spec,
};

use crate::Comparable;
use crate::change::Compat::{Breaks, Ok as Fine};
use crate::change::{Change, Compat, Diff};
use crate::schema::{Defs, Schemas};

/// One version of a team's document.
#[derive(Debug)]
pub struct Api {
    spec: Spec,
    definitions: Defs,
}

impl Api {
    /// Reads `path` (a document, or a directory holding `asyncapi.yaml`) as
    /// `natsbridge codegen` does with `options`.
    pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Api> {
        Ok(Api::from_spec(Spec::load_with(path, options)?))
    }

    /// A document already read.
    pub fn from_spec(spec: Spec) -> Api {
        let definitions = spec.types.bundled["definitions"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Api { spec, definitions }
    }

    /// The document as read.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }
}

impl Comparable for Api {
    fn load(path: &Path) -> Result<Api> {
        Api::load_with(path, &LoadOptions::default())
    }

    fn version(&self) -> Option<String> {
        Some(self.spec.version.clone())
    }

    fn changes(old: &Api, new: &Api) -> Vec<Change> {
        let mut judge = Judge {
            old: &old.spec,
            new: &new.spec,
            schemas: Schemas::new(&old.definitions, &new.definitions, true),
            diff: Diff::default(),
        };
        judge.schemas.old_places = Some(&old.spec.type_places);
        judge.schemas.new_places = Some(&new.spec.type_places);
        judge.operations();
        judge.diff.changes
    }
}

fn sends(kind: OpKind) -> bool {
    matches!(kind, OpKind::Publish | OpKind::Request | OpKind::StreamPublish)
}

fn op_pointer(op: &Operation) -> Option<String> {
    Some(format!("#/operations/{}", op.key.replace('~', "~0").replace('/', "~1")))
}

struct Judge<'a> {
    old: &'a Spec,
    new: &'a Spec,
    schemas: Schemas<'a>,
    diff: Diff,
}

impl<'a> Judge<'a> {
    /// The messages an operation carries by `name`: a union's members, or its one message.
    fn members(spec: &'a Spec, key: &str) -> BTreeMap<&'a str, &'a Message> {
        let m = spec.message(key);
        match &m.body {
            Body::Union { members } => {
                members.iter().map(|k| spec.message(k)).map(|m| (m.name.as_str(), m)).collect()
            }
            _ => [(m.name.as_str(), m)].into(),
        }
    }

    /// The same operation on the wire: subject, action and message names.
    fn same_wire(&self, o: &Operation, n: &Operation) -> bool {
        let names = |spec: &'a Spec, op: &Operation| {
            Judge::members(spec, &op.message).into_keys().collect::<Vec<_>>()
        };
        sends(o.kind) == sends(n.kind)
            && self.old.channel(&o.channel).wildcard() == self.new.channel(&n.channel).wildcard()
            && names(self.old, o) == names(self.new, n)
    }

    fn operations(&mut self) {
        let mut matched = Vec::new();
        for o in &self.old.operations {
            self.diff.operation = Some(o.key.clone());
            self.diff.message = None;
            let found = self.new.operations.iter().find(|n| n.key == o.key).or_else(|| {
                self.new
                    .operations
                    .iter()
                    .find(|n| !self.old.operations.iter().any(|x| x.key == n.key) && self.same_wire(o, n))
            });
            let Some(n) = found else {
                self.removed(o);
                continue;
            };
            matched.push(n.key.clone());
            if n.key != o.key {
                self.diff.push(
                    format!("operations.{}", o.key),
                    op_pointer(n),
                    "operation-renamed",
                    format!("`{}` is now `{}`: generated names change, the wire does not", o.key, n.key),
                    Fine,
                    Fine,
                );
            }
            self.operation(o, n);
        }
        for n in self.new.operations.iter().filter(|n| !matched.contains(&n.key)) {
            self.diff.operation = Some(n.key.clone());
            self.diff.message = None;
            self.diff.push(
                format!("operations.{}", n.key),
                op_pointer(n),
                "operation-added",
                "new operation",
                Fine,
                Fine,
            );
        }
    }

    /// An operation with no counterpart: its channel is gone, or only the operation.
    fn removed(&mut self, o: &Operation) {
        let channel = self.old.channel(&o.channel);
        let subject_kept = self.new.channels.iter().any(|c| c.wildcard() == channel.wildcard());
        let pointer = Some(format!("#/channels/{}", channel.key.replace('~', "~0").replace('/', "~1")));
        if !subject_kept {
            self.diff.push(
                format!("channels.{}", channel.key),
                pointer,
                "channel-removed",
                format!(
                    "channel `{}` (subject `{}`) removed: old senders' messages go unheard, old receivers wait in vain",
                    channel.key, channel.address
                ),
                Breaks,
                Breaks,
            );
            return;
        }
        // The app no longer sends: receivers wait in vain; no longer receives: senders go
        // unheard; a request or a served request: both.
        let (receivers, senders) = match (sends(o.kind), o.reply.is_some()) {
            (_, true) => (Breaks, Breaks),
            (true, false) => (Breaks, Fine),
            (false, false) => (Fine, Breaks),
        };
        let detail = if sends(o.kind) {
            "operation removed: nothing sends its messages any more (or renamed and changed: then the new one is reported as added)"
        } else {
            "operation removed: nothing receives its messages any more (or renamed and changed: then the new one is reported as added)"
        };
        self.diff.push(
            format!("operations.{}", o.key),
            op_pointer(o),
            "operation-removed",
            detail,
            receivers,
            senders,
        );
    }

    fn operation(&mut self, o: &Operation, n: &Operation) {
        let loc = format!("operations.{}", n.key);
        if sends(o.kind) != sends(n.kind) {
            let word = |k| if sends(k) { "send" } else { "receive" };
            let detail = format!("action {} → {}: the other side's role flips", word(o.kind), word(n.kind));
            self.diff.push(&loc, op_pointer(n), "operation-action-changed", detail, Breaks, Breaks);
            return;
        }
        if !self.channel(o, n) {
            return;
        }
        if o.queue != n.queue {
            let detail = format!(
                "queue group {:?} → {:?}: how this app's instances share messages, not the wire",
                o.queue, n.queue
            );
            self.diff.push(&loc, op_pointer(n), "queue-changed", detail, Fine, Fine);
        }
        self.messages(&o.message, &n.message);
        match (&o.reply, &n.reply) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                self.diff.reply = true;
                self.messages(a, b);
                self.diff.reply = false;
            }
            (a, _) => {
                self.diff.message = None;
                let detail = if a.is_some() {
                    "the reply is gone: requesters wait for an answer that never comes"
                } else {
                    "a reply is expected now: old senders do not wait for it, old receivers never send it"
                };
                self.diff.push(&loc, op_pointer(n), "operation-reply-changed", detail, Breaks, Breaks);
            }
        }
    }

    /// The channel: subject, parameters, stream. False when the subject changed (nothing
    /// else is worth comparing then).
    fn channel(&mut self, o: &Operation, n: &Operation) -> bool {
        let (oc, nc) = (self.old.channel(&o.channel), self.new.channel(&n.channel));
        let loc = format!("channels.{}", nc.key);
        let ptr =
            |tail: &str| Some(format!("#/channels/{}{tail}", nc.key.replace('~', "~0").replace('/', "~1")));
        if oc.wildcard() != nc.wildcard() {
            let detail = format!("address `{}` → `{}`: the subject changed", oc.address, nc.address);
            self.diff.push(&loc, ptr("/address"), "channel-address-changed", detail, Breaks, Breaks);
            return false;
        }
        for (op, np) in oc.params.iter().zip(&nc.params) {
            let at = ptr(&format!("/parameters/{}", np.name));
            let loc = format!("{loc}.{}", np.name);
            if op.name != np.name {
                let detail = format!("parameter `{}` renamed to `{}`: same subject token", op.name, np.name);
                self.diff.push(&loc, at.clone(), "parameter-renamed", detail, Fine, Fine);
            }
            match (op.allowed.is_empty(), np.allowed.is_empty()) {
                (true, true) => {}
                (true, false) => {
                    let detail = format!("values restricted to {:?}: old senders may use others", np.allowed);
                    self.diff.push(&loc, at, "parameter-restricted", detail, Fine, Breaks);
                }
                (false, true) => {
                    self.diff.push(
                        &loc,
                        at,
                        "parameter-unrestricted",
                        "any subject token allowed now",
                        Fine,
                        Fine,
                    );
                }
                (false, false) => {
                    for v in np.allowed.iter().filter(|v| !op.allowed.contains(v)) {
                        let detail =
                            format!("value `{v}` added (old receivers listen on the values they know)");
                        self.diff.push(&loc, at.clone(), "parameter-value-added", detail, Fine, Fine);
                    }
                    for v in op.allowed.iter().filter(|v| !np.allowed.contains(v)) {
                        let detail = format!("value `{v}` removed: old senders still publish on it");
                        self.diff.push(&loc, at.clone(), "parameter-value-removed", detail, Fine, Breaks);
                    }
                }
            }
        }
        if oc.stream != nc.stream {
            let detail = format!(
                "JetStream stream {:?} → {:?}: replays and acknowledged publishes go elsewhere",
                oc.stream, nc.stream
            );
            self.diff.push(&loc, ptr(""), "channel-stream-changed", detail, Breaks, Breaks);
        }
        true
    }

    /// The messages of one direction of an operation (the request, or the reply).
    fn messages(&mut self, old_key: &str, new_key: &str) {
        let (om, nm) = (Judge::members(self.old, old_key), Judge::members(self.new, new_key));
        for (name, m) in &om {
            self.diff.message = Some(m.key.clone());
            match nm.get(name) {
                Some(n) => self.message(m, n),
                None => {
                    let ptr = self.old.message_places.get(&m.key).cloned();
                    let detail = format!(
                        "message `{name}` no longer carried: new receivers refuse it from old senders"
                    );
                    self.diff.push(&m.key, ptr, "message-removed", detail, Fine, Breaks);
                }
            }
        }
        for (name, n) in nm.iter().filter(|(name, _)| !om.contains_key(*name)) {
            self.diff.message = Some(n.key.clone());
            let ptr = self.new.message_places.get(&n.key).cloned();
            let detail =
                format!("message `{name}` carried too: old receivers get a message they do not know");
            self.diff.push(&n.key, ptr, "message-added", detail, Breaks, Fine);
        }
    }

    fn message(&mut self, o: &Message, n: &Message) {
        let place = self.new.message_places.get(&n.key).cloned();
        let loc = n.key.clone();
        if o.body.payload_type() != n.body.payload_type() {
            let detail = format!("payload type `{}` → `{}`", o.body.payload_type(), n.body.payload_type());
            self.diff.push(
                &loc,
                place.clone().map(|p| p + "/payload"),
                "payload-type-changed",
                detail,
                Breaks,
                Breaks,
            );
        } else if let (Body::Json { type_name: ot, .. }, Body::Json { type_name: nt, .. }) =
            (&o.body, &n.body)
        {
            self.schemas.compare_named(ot, nt, &loc, &mut self.diff);
        }
        self.headers(o, n, &loc, &place);
        self.correlation(o, n, &loc, &place);
    }

    fn headers(&mut self, o: &Message, n: &Message, loc: &str, place: &Option<String>) {
        let by_name = |m: &Message| -> BTreeMap<String, Header> {
            m.headers.iter().map(|h| (h.name.to_ascii_lowercase(), h.clone())).collect()
        };
        let (oh, nh) = (by_name(o), by_name(n));
        let at = |h: &Header| place.as_ref().map(|p| format!("{p}/headers/properties/{}", h.name));
        for (key, h) in &oh {
            let loc = format!("{loc}.headers.{}", h.name);
            let Some(nh) = nh.get(key) else {
                let detail = format!(
                    "{} header `{}` no longer sent{}",
                    if h.required { "required" } else { "optional" },
                    h.name,
                    if h.required { ": old receivers require it" } else { "" }
                );
                let receivers = if h.required { Breaks } else { Fine };
                self.diff.push(&loc, place.clone(), "header-removed", detail, receivers, Fine);
                continue;
            };
            match (h.required, nh.required) {
                (false, true) => self.diff.push(
                    &loc,
                    at(nh),
                    "header-became-required",
                    "optional → required: old senders may leave it out",
                    Fine,
                    Breaks,
                ),
                (true, false) => self.diff.push(
                    &loc,
                    at(nh),
                    "header-became-optional",
                    "required → optional: old receivers require it",
                    Breaks,
                    Fine,
                ),
                _ => {}
            }
            if h.ty != nh.ty {
                let (fwd, bwd) = (compat(accepts(h.ty, nh.ty)), compat(accepts(nh.ty, h.ty)));
                let detail = format!(
                    "type {} → {} (every header is text; readers parse it as their type)",
                    scalar(h.ty),
                    scalar(nh.ty)
                );
                self.diff.push(&loc, at(nh), "header-type-changed", detail, fwd, bwd);
            }
        }
        for h in nh.iter().filter(|(k, _)| !oh.contains_key(*k)).map(|(_, h)| h) {
            let detail = format!(
                "{} header `{}` added{}",
                if h.required { "required" } else { "optional" },
                h.name,
                if h.required { ": old senders do not send it" } else { " (old receivers ignore it)" }
            );
            let senders = if h.required { Breaks } else { Fine };
            self.diff.push(format!("{loc}.headers.{}", h.name), at(h), "header-added", detail, Fine, senders);
        }
    }

    fn correlation(&mut self, o: &Message, n: &Message, loc: &str, place: &Option<String>) {
        if o.correlation == n.correlation {
            return;
        }
        let at = place.as_ref().map(|p| format!("{p}/correlationId"));
        let word = |c: &Option<Correlation>| match c {
            None => "the envelope only".to_owned(),
            Some(Correlation::Header(h)) => format!("header `{h}`"),
            Some(Correlation::Payload(path)) => format!("payload `/{}`", path.join("/")),
        };
        let detail = format!("correlation id in {} → {}", word(&o.correlation), word(&n.correlation));
        let (fwd, bwd) = match (&o.correlation, &n.correlation) {
            // Old receivers do not look for it; old senders do not put it there.
            (None, Some(_)) => (Fine, Breaks),
            (Some(_), None) => (Breaks, Fine),
            _ => (Breaks, Breaks),
        };
        self.diff.push(format!("{loc}.correlationId"), at, "correlation-id-changed", detail, fwd, bwd);
    }
}

fn compat(ok: bool) -> Compat {
    if ok { Fine } else { Breaks }
}

/// Whether a reader of type `reader` parses every value a writer of type `writer` sends.
fn accepts(reader: Scalar, writer: Scalar) -> bool {
    matches!(
        (reader, writer),
        (Scalar::String, _)
            | (Scalar::Number, Scalar::Number | Scalar::Integer { .. })
            | (Scalar::Integer { unsigned: false }, Scalar::Integer { .. })
            | (Scalar::Integer { unsigned: true }, Scalar::Integer { unsigned: true })
            | (Scalar::Boolean, Scalar::Boolean)
    )
}

fn scalar(s: Scalar) -> &'static str {
    match s {
        Scalar::String => "string",
        Scalar::Integer { unsigned: true } => "integer (≥ 0)",
        Scalar::Integer { unsigned: false } => "integer",
        Scalar::Number => "number",
        Scalar::Boolean => "boolean",
    }
}
