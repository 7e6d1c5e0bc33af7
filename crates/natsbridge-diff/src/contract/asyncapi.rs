//! The envelope contract's AsyncAPI rules (`schema/asyncapi.yaml`, read as YAML, not as a
//! team's document): channels, operations, messages and NATS headers.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::change::Compat::{Breaks, Ok as Fine};
use crate::change::Diff;
use crate::schema::{Defs, Schemas, required};

fn section(doc: &Value, path: &[&str]) -> Map<String, Value> {
    let mut v = doc;
    for p in path {
        match v.get(p) {
            Some(next) => v = next,
            None => return Map::new(),
        }
    }
    v.as_object().cloned().unwrap_or_default()
}

fn refs(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| {
            o.values().filter_map(|m| m.get("$ref").and_then(Value::as_str).map(str::to_owned)).collect()
        })
        .unwrap_or_default()
}

fn message_refs(op: &Value) -> BTreeSet<String> {
    op.get("messages")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| m.get("$ref").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Compares two AsyncAPI documents.
pub(crate) fn diff_asyncapi(old: &Value, new: &Value, diff: &mut Diff) {
    let (oc, nc) = (section(old, &["channels"]), section(new, &["channels"]));
    for (key, o) in &oc {
        let loc = format!("asyncapi:channels.{key}");
        let Some(n) = nc.get(key) else {
            // A channel whose address survives under another key is only renamed in the document.
            let moved =
                nc.iter().find(|(_, n)| n.get("address") == o.get("address") && o.get("address").is_some());
            if let Some((to, _)) = moved {
                let detail = format!("document key `{key}` → `{to}`; same address");
                diff.push(&loc, None, "channel-key-renamed", detail, Fine, Fine);
            } else {
                let detail = "channel (NATS subject) removed: old writers' messages go unheard, \
                              old readers wait in vain";
                diff.push(&loc, None, "channel-removed", detail, Breaks, Breaks);
            }
            continue;
        };
        if o.get("address") != n.get("address") {
            diff.push(
                &loc,
                None,
                "channel-address-changed",
                format!(
                    "address {} → {}",
                    o.get("address").unwrap_or(&Value::Null),
                    n.get("address").unwrap_or(&Value::Null)
                ),
                Breaks,
                Breaks,
            );
        }
        let (om, nm) = (
            refs(o.get("messages").unwrap_or(&Value::Null)),
            refs(n.get("messages").unwrap_or(&Value::Null)),
        );
        for m in nm.difference(&om) {
            diff.push(
                &loc,
                None,
                "channel-message-added",
                format!("carries {m} too: old readers get a message they do not know"),
                Breaks,
                Fine,
            );
        }
        for m in om.difference(&nm) {
            diff.push(
                &loc,
                None,
                "channel-message-removed",
                format!("no longer carries {m}: old writers still send it"),
                Fine,
                Breaks,
            );
        }
    }
    for key in nc.keys().filter(|k| !oc.contains_key(*k)) {
        let renamed_from =
            oc.values().any(|o| o.get("address").is_some() && o.get("address") == nc[key].get("address"));
        if !renamed_from {
            diff.push(format!("asyncapi:channels.{key}"), None, "channel-added", "new channel", Fine, Fine);
        }
    }

    let (oo, no) = (section(old, &["operations"]), section(new, &["operations"]));
    for (key, o) in &oo {
        let loc = format!("asyncapi:operations.{key}");
        let Some(n) = no.get(key) else {
            diff.push(&loc, None, "operation-removed", "operation removed (or renamed)", Breaks, Breaks);
            continue;
        };
        if o.get("action") != n.get("action") {
            diff.push(&loc, None, "operation-action-changed", "send ↔ receive", Breaks, Breaks);
        }
        if o.get("channel") != n.get("channel") {
            diff.push(
                &loc,
                None,
                "operation-channel-changed",
                "operation moved to another channel",
                Breaks,
                Breaks,
            );
        }
        let (om, nm) = (message_refs(o), message_refs(n));
        if om != nm {
            diff.push(
                &loc,
                None,
                "operation-messages-changed",
                "the operation's message list changed",
                Breaks,
                Breaks,
            );
        }
        if o.get("reply").is_some() != n.get("reply").is_some()
            || o.pointer("/reply/address") != n.pointer("/reply/address")
        {
            diff.push(
                &loc,
                None,
                "operation-reply-changed",
                "request/reply shape or reply address changed",
                Breaks,
                Breaks,
            );
        }
    }
    for key in no.keys().filter(|k| !oo.contains_key(*k)) {
        diff.push(format!("asyncapi:operations.{key}"), None, "operation-added", "new operation", Fine, Fine);
    }

    let (om, nm) = (section(old, &["components", "messages"]), section(new, &["components", "messages"]));
    for (key, o) in &om {
        let loc = format!("asyncapi:messages.{key}");
        let Some(n) = nm.get(key) else {
            diff.push(
                &loc,
                None,
                "message-removed",
                "message definition removed (or renamed)",
                Breaks,
                Breaks,
            );
            continue;
        };
        if o.get("name") != n.get("name") {
            diff.push(
                &loc,
                None,
                "message-renamed",
                format!("name {} → {}", o["name"], n.get("name").unwrap_or(&Value::Null)),
                Breaks,
                Breaks,
            );
        }
        if o.pointer("/payload/schema") != n.pointer("/payload/schema") {
            diff.push(
                &loc,
                None,
                "message-payload-changed",
                "payload schema reference changed",
                Breaks,
                Breaks,
            );
        }
        if o.get("contentType") != n.get("contentType") {
            diff.push(&loc, None, "message-content-type-changed", "content type changed", Breaks, Breaks);
        }
    }
    for key in nm.keys().filter(|k| !om.contains_key(*k)) {
        diff.push(
            format!("asyncapi:messages.{key}"),
            None,
            "message-added",
            "new message definition",
            Fine,
            Fine,
        );
    }

    diff_headers(old, new, diff);
}

/// Headers are described by `components.schemas.*Headers` objects.
fn diff_headers(old: &Value, new: &Value, diff: &mut Diff) {
    let (os, ns) = (section(old, &["components", "schemas"]), section(new, &["components", "schemas"]));
    for (name, o) in os.iter().filter(|(k, _)| k.ends_with("Headers")) {
        let loc = format!("asyncapi:headers.{name}");
        let Some(n) = ns.get(name) else {
            diff.push(&loc, None, "headers-removed", "header set removed", Breaks, Fine);
            continue;
        };
        let keys = |s: &Value| -> BTreeSet<String> {
            s.get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default()
        };
        let (ok, nk) = (keys(o), keys(n));
        for h in nk.difference(&ok) {
            let req = required(n).contains(h);
            diff.push(
                format!("{loc}.{h}"),
                None,
                "header-added",
                format!(
                    "{} header `{h}` added (unknown headers pass through old readers)",
                    if req { "required" } else { "optional" }
                ),
                Fine,
                if req { Breaks } else { Fine },
            );
        }
        for h in ok.difference(&nk) {
            diff.push(
                format!("{loc}.{h}"),
                None,
                "header-removed",
                format!("header `{h}` no longer written: old readers that use it lose it"),
                Breaks,
                Fine,
            );
        }
        for h in ok.intersection(&nk) {
            let at = format!("{loc}.{h}");
            match (required(o).contains(h), required(n).contains(h)) {
                (false, true) => diff.push(&at, None, "became-required", "optional → required", Fine, Breaks),
                (true, false) => diff.push(&at, None, "became-optional", "required → optional", Breaks, Fine),
                _ => {}
            }
            let none = Defs::new();
            Schemas::new(&none, &none, false).compare(
                &o["properties"][h],
                &n["properties"][h],
                &at,
                None,
                diff,
            );
        }
    }
}
