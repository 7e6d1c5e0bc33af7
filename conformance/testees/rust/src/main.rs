//! `natsbridge-testee`: the Rust lane of `cargo xtask conformance`, beside the TypeScript
//! and Python testees in `conformance/testees/`. Reads one
//! JSON request per line on stdin and answers one JSON line on stdout (protocol in
//! `conformance/README.md`):
//!
//! - `validate`: strict v1 validation with the `jsonschema` crate on the bundled schema;
//! - `decode`: `smartreceive` on the envelope text (downloads included);
//! - `roundtrip`: parse into the generated `MsgEnvelopeV1` and serialize it again;
//! - `encode`: the writer side: the payloads as native values through `smartsend` without
//!   publishing (`SendOptions::no_publish`), answering the envelope text it produced;
//! - `send`: `smartsend` from API-level inputs (the options by their conformance names mapped
//!   to `SendOptions` setters), links uploaded to the runner's file server;
//! - `fetch`: `fetch_with_backoff` with the given schedule;
//! - `start`, `allow_host`: `Start::parse_at` and `fetch::allowed_host` (a Rust caller's
//!   dynamic input is text: a JSON number is given as its digits, anything else is refused);
//! - `reply_error`, `decode_reply`: `error_response` for an `Error` and `decode_reply`.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use clap::Parser;

use arrow_schema::DataType;
use natsbridge::table::TableLimits;
use std::time::Duration;

use natsbridge::fetch::FetchOptions;
use natsbridge::types::{MsgEnvelopeV1, MsgPurpose};
use natsbridge::{Payload, PayloadType, ReceiveOptions, Received, SendOptions};
use serde_json::{Value, json};

/// Arrow types by the names every lane uses (`conformance/README.md`).
fn arrow_type_name(t: &DataType) -> String {
    match t {
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::LargeUtf8 => "large_utf8".into(),
        other => format!("other:{other}"),
    }
}

fn decoded(r: &Received) -> Value {
    let payloads: Vec<Value> = r
        .payloads
        .iter()
        .map(|p| {
            // The digest of the bytes as carried (`conformance/README.md`), plus the values.
            let mut v = json!({
                "dataname": p.dataname,
                "payload_type": p.payload_type.as_str(),
                "transport": p.transport.as_str(),
                "size": p.bytes().len(),
                "sha256": p.sha256(),
            });
            if let Some(rows) = p.data.num_rows() {
                v["num_rows"] = json!(rows);
            }
            match &p.data {
                Payload::Text(t) => v["text"] = json!(t),
                Payload::Dictionary(d) | Payload::JsonTable(d) => v["json"] = d.clone(),
                Payload::ArrowTable(t) => {
                    v["arrow_schema"] = t
                        .schema
                        .fields()
                        .iter()
                        .map(|f| json!([f.name(), arrow_type_name(f.data_type()), f.is_nullable()]))
                        .collect();
                }
                _ => {}
            }
            v
        })
        .collect();
    json!({"ok": true, "payloads": payloads})
}

/// The bytes an `encode` or `send` request gives for one payload: `text`, `json`, `base64`
/// or `fill` (`count` bytes of value `byte`).
fn request_bytes(p: &Value) -> Option<Vec<u8>> {
    if let Some(t) = p.get("text") {
        return t.as_str().map(|t| t.as_bytes().to_vec());
    }
    if let Some(j) = p.get("json") {
        return serde_json::to_vec(j).ok();
    }
    if let Some(fill) = p.get("fill") {
        let byte = u8::try_from(fill["byte"].as_u64()?).ok()?;
        return Some(vec![byte; usize::try_from(fill["count"].as_u64()?).ok()?]);
    }
    natsbridge::codec::decode(p.get("base64")?.as_str()?).ok().map(|b| b.to_vec())
}

fn failed(e: &natsbridge::Error) -> Value {
    json!({"ok": false, "error": e.code().as_str(), "message": e.to_string()})
}

fn invalid_request(message: &str) -> Value {
    json!({"ok": false, "error": "INVALID_REQUEST", "message": message})
}

/// The payloads of a request as the native values a Rust caller would hand over.
fn native_payloads(req: &Value) -> Result<Vec<(String, Payload)>, Value> {
    let list = req["payloads"].as_array().ok_or_else(|| invalid_request("`payloads` must be an array"))?;
    let mut payloads = Vec::with_capacity(list.len());
    for p in list {
        let name = p["dataname"].as_str().unwrap_or_default().to_owned();
        let (Ok(kind), Some(bytes)) =
            (serde_json::from_value::<PayloadType>(p["payload_type"].clone()), request_bytes(p))
        else {
            return Err(invalid_request(&format!("payload {name:?}")));
        };
        payloads.push((
            name,
            Payload::from_bytes(&kind, bytes.into(), TableLimits::default()).map_err(|e| failed(&e))?,
        ));
    }
    Ok(payloads)
}

/// `send`: the conformance option names mapped onto `SendOptions`; nothing published.
async fn send(req: &Value) -> Value {
    let payloads = match native_payloads(req) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let mut options = SendOptions::default().no_publish();
    if let Some(url) = req["fileserver"].as_str() {
        options = options.fileserver(url);
    }
    for (key, v) in req["options"].as_object().into_iter().flatten() {
        let text = v.as_str().unwrap_or_default();
        let count = v.as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX);
        options = match key.as_str() {
            "correlation_id" => options.correlation_id(text),
            "msg_id" => options.msg_id(text),
            "msg_purpose" => options.purpose(MsgPurpose::from(text)),
            "sender_name" => options.sender_name(text),
            "sender_id" => options.sender_id(text),
            "receiver_name" => options.receiver_name(text),
            "receiver_id" => options.receiver_id(text),
            "reply_to" => options.reply_to(text),
            "reply_to_msg_id" => options.reply_to_msg_id(text),
            "metadata" => match serde_json::from_value(v.clone()) {
                Ok(m) => options.metadata(m),
                Err(_) => return invalid_request("`metadata` must be an object"),
            },
            "size_threshold" => options.size_threshold(count),
            "max_payload" => options.max_payload(count),
            "headers" => {
                let mut o = options;
                for (name, value) in v.as_object().into_iter().flatten() {
                    o = o.header(name, value.as_str().unwrap_or_default());
                }
                o
            }
            other => return invalid_request(&format!("unknown option {other:?}")),
        };
    }
    let subject = req["subject"].as_str().unwrap_or_default();
    match natsbridge::smartsend(subject, payloads, &options).await {
        Ok(sent) => json!({"ok": true, "text": sent.json}),
        Err(e) => failed(&e),
    }
}

/// `fetch`: `fetch_with_backoff` with the request's schedule (milliseconds), answering the
/// body's size and SHA-256.
async fn fetch(req: &Value) -> Value {
    let o = &req["options"];
    let mut options = FetchOptions::default();
    if let Some(n) = o["max_attempts"].as_u64() {
        options.max_attempts = u32::try_from(n).unwrap_or(u32::MAX);
    }
    let ms = |k: &str| o[k].as_u64().map(Duration::from_millis);
    options.base_delay = ms("base_delay_ms").unwrap_or(options.base_delay);
    options.max_delay = ms("max_delay_ms").unwrap_or(options.max_delay);
    options.deadline = ms("deadline_ms").unwrap_or(options.deadline);
    options.max_bytes = o["max_bytes"].as_u64().unwrap_or(options.max_bytes);
    let url = req["url"].as_str().unwrap_or_default();
    let client = natsbridge::fetch::http_client();
    match natsbridge::fetch::fetch_with_backoff(&client, url, o["expected_size"].as_u64(), &options, "").await
    {
        Ok(body) => {
            json!({"ok": true, "size": body.len(), "sha256": natsbridge::wire::sha256_hex(body.as_slice())})
        }
        Err(e) => failed(&e),
    }
}

/// `encode`: each payload becomes the native value a Rust caller would hand over (a `String`,
/// a `serde_json::Value`, an Arrow `Table` read from the given IPC bytes, `Bytes`), then
/// `smartsend` builds the envelope without publishing, every payload direct.
async fn encode(req: &Value) -> Value {
    let payloads = match native_payloads(req) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let mut options = SendOptions::default().no_publish().size_threshold(usize::MAX);
    if let Some(cid) = req["correlation_id"].as_str() {
        options = options.correlation_id(cid);
    }
    if let Some(id) = req["msg_id"].as_str() {
        options = options.msg_id(id);
    }
    match natsbridge::smartsend("conformance.encode", payloads, &options).await {
        Ok(sent) => json!({"ok": true, "text": sent.json}),
        Err(e) => failed(&e),
    }
}

/// `typed`: one value of a message of the example spec (`simulation-api`) through the
/// generated package: `send` builds the Rust value (a value the types cannot hold cannot
/// be built: `SERIALIZATION_ERROR`, as a refused send) and encodes it; `receive` has
/// `smartsend` carry it as another sender would and the message's `decode` read it.
async fn typed(req: &Value) -> Value {
    use simulation_api::{Command, CommandStatus, Health};
    match req["message"].as_str() {
        Some("command") => typed_case::<Command>(req).await,
        Some("status") => typed_case::<CommandStatus>(req).await,
        Some("health") => typed_case::<Health>(req).await,
        other => invalid_request(&format!("unknown message {other:?}")),
    }
}

async fn typed_case<M: natsbridge::typed::Message + serde::de::DeserializeOwned>(req: &Value) -> Value {
    let value = req["value"].clone();
    if req["direction"] == "send" {
        let message: M = match serde_json::from_value(value) {
            Ok(m) => m,
            Err(e) => return json!({"ok": false, "error": "SERIALIZATION_ERROR", "message": e.to_string()}),
        };
        return match message.encode() {
            Ok(_) => json!({"ok": true}),
            Err(e) => failed(&e),
        };
    }
    let options = SendOptions::default().no_publish();
    let sent =
        match natsbridge::smartsend("conformance.typed", [(M::NAME, Payload::Dictionary(value))], &options)
            .await
        {
            Ok(sent) => sent,
            Err(e) => return failed(&e),
        };
    let received =
        match natsbridge::smartreceive_bytes(sent.json.as_bytes(), None, &ReceiveOptions::default()).await {
            Ok(r) => r,
            Err(e) => return failed(&e),
        };
    match M::decode(&received) {
        Ok(_) => json!({"ok": true}),
        Err(e) => failed(&e),
    }
}

/// The Rust testee: JSON-lines requests on stdin, one answer line each on stdout.
#[derive(Debug, Parser)]
#[command(name = "natsbridge-testee", version)]
struct Args {
    /// Hosts link payloads may be downloaded from.
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
}

fn start(req: &Value) -> Value {
    use natsbridge::jetstream::Start;
    let text = match &req["value"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return wrong_type("start", other),
    };
    let now = req["now"].as_str().and_then(|t| t.parse().ok()).unwrap_or_else(natsbridge::chrono::Utc::now);
    match Start::parse_at(&text, now) {
        Ok(Start::All) => json!({"ok": true, "start": "all"}),
        Ok(Start::New) => json!({"ok": true, "start": "new"}),
        Ok(Start::Sequence(n)) => json!({"ok": true, "start": {"sequence": n}}),
        Ok(Start::Since(t)) => {
            json!({"ok": true, "start": {"time": t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()}})
        }
        Err(e) => failed(&e),
    }
}

/// What Rust's types refuse before any call: a value of the wrong JSON type.
fn wrong_type(what: &str, value: &Value) -> Value {
    json!({"ok": false, "error": "INVALID_ARGUMENT", "message": format!("{what} must be text, not {value}")})
}

fn allow_host(req: &Value) -> Value {
    match &req["value"] {
        Value::String(s) => match natsbridge::fetch::allowed_host(s) {
            Ok(host) => json!({"ok": true, "host": host}),
            Err(e) => failed(&e),
        },
        other => wrong_type("an allowed host", other),
    }
}

/// `connect_settings`: the runtime's resolver over the case's flags and environment only.
fn connect_settings(req: &Value) -> Value {
    use natsbridge::settings::{Auth, ConnectFlags, ConnectSettings, Material};
    let text = |k: &str| req["flags"][k].as_str().map(str::to_owned);
    let flags = ConnectFlags {
        server: text("server"),
        context: text("context"),
        no_context: req["flags"]["no-context"] == true,
        user: text("user"),
        password: text("password"),
        token: text("token"),
        creds: text("creds"),
        nkey: text("nkey"),
        tls_ca: text("tls-ca"),
        tls_cert: text("tls-cert"),
        tls_key: text("tls-key"),
        tls_first: req["flags"]["tls-first"] == true,
    };
    let env = |name: &str| req["env"][name].as_str().map(str::to_owned);
    let settings = match ConnectSettings::resolve_with(&flags, env) {
        Ok(s) => s,
        Err(e) => return failed(&e),
    };
    let material = |m: &Material, auth: &mut serde_json::Map<String, Value>| match m {
        Material::File(path) => auth.insert("path".into(), json!(path)),
        Material::Inline(_) => auth.insert("inline".into(), json!(true)),
    };
    let mut auth = serde_json::Map::new();
    auth.insert("kind".into(), json!(settings.auth().kind()));
    if let Some(source) = settings.auth().source() {
        auth.insert("source".into(), json!(source));
    }
    match settings.auth() {
        Auth::UserPassword { user, password, .. } => {
            auth.insert("user".into(), json!(user));
            auth.insert("password".into(), json!(password.expose()));
        }
        Auth::Token { token, .. } => {
            auth.insert("token".into(), json!(token.expose()));
        }
        Auth::Creds { creds: m, .. } | Auth::NKey { seed: m, .. } => {
            material(m, &mut auth);
        }
        Auth::None => {}
    }
    let tls = settings.tls();
    let mut t = json!({"first": tls.first, "required": tls.required});
    for (k, v) in [("ca", &tls.ca), ("cert", &tls.cert), ("key", &tls.key)] {
        if let Some(path) = v {
            t[k] = json!(path);
        }
    }
    json!({"ok": true, "settings": {
        "servers": settings.servers(),
        "servers_source": settings.servers_source(),
        "context": settings.context(),
        "auth": auth,
        "tls": t,
        "shown": settings.to_string(),
    }})
}

fn reply_error(req: &Value) -> Value {
    let Ok(request) = serde_json::from_value::<MsgEnvelopeV1>(req["request"].clone()) else {
        return invalid_request("`request` is not an envelope");
    };
    let e = &req["error"];
    let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
    let mut error = match e["kind"].as_str() {
        Some("application") => natsbridge::Error::application(text("application_code"), text("message"))
            .with_details(e["details"].as_object().cloned().unwrap_or_default()),
        Some("bridge") => {
            let Ok(code) = serde_json::from_value::<natsbridge::ErrorCode>(e["code"].clone()) else {
                return invalid_request("unknown `code`");
            };
            natsbridge::Error::new(code, text("message"))
        }
        Some("raise") => natsbridge::Error::handler_failed(&std::io::Error::other(text("message"))),
        _ => return invalid_request("`error.kind` is application, bridge or raise"),
    };
    if let Some(name) = e["dataname"].as_str() {
        error = error.with_dataname(name);
    }
    match natsbridge::error_response(&request, &error) {
        Ok(response) => json!({"ok": true, "text": serde_json::to_string(&response).unwrap_or_default()}),
        Err(e) => failed(&e),
    }
}

async fn decode_reply(body: &[u8], req: &Value, options: &ReceiveOptions) -> Value {
    let cid = req["correlation_id"].as_str().unwrap_or_default();
    match natsbridge::decode_reply(body, None, options, cid).await {
        Ok(_) => json!({"ok": true}),
        Err(e) => json!({
            "ok": false,
            "error": e.code().as_str(),
            "remote": e.is_remote(),
            "application_code": e.application_code(),
            "message": e.message(),
            "display": e.to_string(),
        }),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse().allow_hosts).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", natsbridge::error::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(allow_hosts: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let validator = natsbridge_testkit::schema::envelope_validator();
    // Only the hosts given: not the default file server's.
    let mut options = ReceiveOptions::default().allowed_hosts(Vec::<String>::new());
    for h in &allow_hosts {
        options = options.allow_host(h);
    }
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(req) = serde_json::from_str::<Value>(&line) else {
            writeln!(out, "{}", json!({"ok": false, "error": "INVALID_REQUEST"}))?;
            continue;
        };
        let text = req["text"].as_str().unwrap_or_default();
        // A message body that need not be UTF-8 comes as `bytes` (base64).
        let body = match req["bytes"].as_str().map(|b| base64_simd::STANDARD.decode_to_vec(b)) {
            Some(Ok(bytes)) => bytes,
            Some(Err(_)) => {
                writeln!(
                    out,
                    "{}",
                    json!({"ok": false, "error": "INVALID_REQUEST", "message": "`bytes` is not base64"})
                )?;
                continue;
            }
            None => text.as_bytes().to_vec(),
        };
        let answer = match req["op"].as_str() {
            Some("hello") => {
                json!({
                    "ok": true,
                    "lane": "rust",
                    "protocol": 1,
                    "capabilities": {
                        "typed": ["simulation"],
                        "ops": ["start", "allow_host", "reply_error", "decode_reply", "connect_settings"],
                    },
                })
            }
            Some("typed") => typed(&req).await,
            Some("validate") => {
                let valid = serde_json::from_str::<Value>(text).is_ok_and(|v| validator.is_valid(&v));
                json!({"valid": valid})
            }
            Some("decode") => match natsbridge::smartreceive_bytes(&body, None, &options).await {
                Ok(r) => decoded(&r),
                Err(e) => json!({"ok": false, "error": e.code().as_str()}),
            },
            Some("roundtrip") => match serde_json::from_str::<MsgEnvelopeV1>(text) {
                Ok(env) => json!({"ok": true, "json": serde_json::to_value(&env)?}),
                Err(_) => json!({"ok": false}),
            },
            Some("encode") => encode(&req).await,
            Some("send") => send(&req).await,
            Some("fetch") => fetch(&req).await,
            Some("start") => start(&req),
            Some("allow_host") => allow_host(&req),
            Some("reply_error") => reply_error(&req),
            Some("decode_reply") => decode_reply(&body, &req, &options).await,
            Some("connect_settings") => connect_settings(&req),
            other => {
                json!({"ok": false, "error": "INVALID_REQUEST", "message": format!("unknown op {other:?}")})
            }
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}
