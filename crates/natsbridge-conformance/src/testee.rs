//! A testee process: one JSON request per line on its stdin, one JSON answer per line on its
//! stdout (the protocol of `conformance/README.md`), starting with the `hello` handshake in
//! which it declares the payload types it handles.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

/// The protocol version this runner speaks (`"protocol"` in a `hello` answer).
pub const PROTOCOL: u64 = 1;

/// How long a testee may take over one answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// `CMD` as typed by a user, run by `sh` with the runner's arguments appended
/// (`sh -c 'CMD "$@"' sh --allow-host URL`).
pub fn testee_command(cmd: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", &format!("{cmd} \"$@\""), "sh"]);
    c
}

/// A running testee; killed when dropped.
#[derive(Debug)]
pub struct Testee {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// The payload types it handles, from its `hello` answer; `None`: every type (a testee
    /// that does not know `hello`).
    payload_types: Option<BTreeSet<String>>,
    /// The team specs whose generated packages it carries for the `typed` cases (its
    /// `hello`'s `capabilities.typed`, e.g. `["simulation"]`); none by default.
    typed_specs: BTreeSet<String>,
    /// The call ops it answers beyond the envelope ones (its `hello`'s `capabilities.ops`:
    /// `start`, `allow_host`, `reply_error`, `decode_reply`); none by default.
    ops: BTreeSet<String>,
}

impl Testee {
    /// Starts `cmd` (stdin and stdout piped, stderr inherited) and shakes hands.
    pub fn spawn(cmd: &mut Command) -> Result<Testee> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut testee = Testee {
            child,
            stdin,
            lines,
            payload_types: None,
            typed_specs: BTreeSet::new(),
            ops: BTreeSet::new(),
        };
        // The handshake: a lane declares what it handles (a small device: no Arrow). One
        // that answers anything else handles everything.
        let hello = testee.request(&json!({"op": "hello"}))?;
        if hello["ok"] == true {
            if let Some(p) = hello["protocol"].as_u64().filter(|p| *p > PROTOCOL) {
                bail!("the testee speaks protocol {p}; this runner speaks {PROTOCOL}");
            }
            if let Some(types) = hello["capabilities"]["payload_types"].as_array() {
                testee.payload_types =
                    Some(types.iter().filter_map(Value::as_str).map(str::to_owned).collect());
            }
            if let Some(ops) = hello["capabilities"]["ops"].as_array() {
                testee.ops = ops.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            }
            if let Some(specs) = hello["capabilities"]["typed"].as_array() {
                testee.typed_specs = specs.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            }
        }
        Ok(testee)
    }

    /// Whether it carries the generated packages of the team spec `spec` (`typed` cases).
    pub fn has_typed(&self, spec: &str) -> bool {
        self.typed_specs.contains(spec)
    }

    /// Whether its `hello` listed the call op `op` under `capabilities.ops`.
    pub fn answers(&self, op: &str) -> bool {
        self.ops.contains(op)
    }

    /// The payload types its `hello` declared; `None`: every type.
    pub fn payload_types(&self) -> Option<&BTreeSet<String>> {
        self.payload_types.as_ref()
    }

    /// Whether this lane handles every payload type in `types` that the schema knows (an
    /// unknown type is a test of the reader's error, which every lane must give).
    pub fn handles<'a>(&self, known: &BTreeSet<String>, mut types: impl Iterator<Item = &'a str>) -> bool {
        match &self.payload_types {
            None => true,
            Some(mine) => types.all(|t| !known.contains(t) || mine.contains(t)),
        }
    }

    /// `{"op": op, "bytes": base64 of bytes}`: a message body that need not be UTF-8.
    pub fn ask_bytes(&mut self, op: &str, bytes: &[u8]) -> Result<Value> {
        self.request(&json!({"op": op, "bytes": base64_simd::STANDARD.encode_to_string(bytes)}))
    }

    /// `{"op": op, "text": text}`.
    pub fn ask(&mut self, op: &str, text: &str) -> Result<Value> {
        self.request(&json!({"op": op, "text": text}))
    }

    /// Sends one request line and reads one answer line.
    pub fn request(&mut self, request: &Value) -> Result<Value> {
        let op = &request["op"];
        if writeln!(self.stdin, "{request}").and_then(|()| self.stdin.flush()).is_err() {
            bail!("the testee {} before reading {op}", self.exited());
        }
        let line = match self.lines.recv_timeout(ANSWER_TIMEOUT) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!("no answer to {op} within {} s (the testee hung)", ANSWER_TIMEOUT.as_secs())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("the testee {} without answering {op}", self.exited())
            }
        };
        serde_json::from_str(&line).with_context(|| format!("the testee answered {op} with non-JSON: {line}"))
    }

    /// "exited (status)" or "closed its stdout", for messages.
    fn exited(&mut self) -> String {
        for _ in 0..20 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return format!("exited ({status})");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        "closed its stdout".into()
    }
}

impl Drop for Testee {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
