//! Connection settings: which NATS servers, which credentials, which TLS, resolved the same
//! way by every runtime and CLI (schema/README.md rule 17; the profile's `connection` group;
//! conformance op `connect_settings`).
//!
//! Each setting comes from its flag ([`ConnectFlags`]), else its environment variable (the
//! nats CLI's names: `NATS_URL`, `NATS_TOKEN`, `NATS_CREDS`, …), else the nats CLI's context
//! in use (`--context`, `NATS_CONTEXT`, or the one `nats context select` chose), else the
//! default. Credentials are one unit: the first layer (flags with the environment, then the
//! context) that holds any gives them all, and two kinds in one layer are an
//! `INVALID_ARGUMENT` naming both sources. Secrets (passwords, tokens, seeds, embedded
//! creds) are never printed: `Debug` and `Display` show what [`ConnectSettings::shown`] does.
//!
//! ```no_run
//! # async fn demo() -> natsbridge::Result<()> {
//! use natsbridge::settings::{ConnectFlags, ConnectSettings};
//! let flags = ConnectFlags {
//!     server: Some("tls://nats.example:4222".into()),
//!     creds: Some("/etc/nats/svc.creds".into()),
//!     ..ConnectFlags::default()
//! };
//! let settings = ConnectSettings::resolve(&flags)?;
//! println!("{settings}"); // servers=tls://nats.example:4222 auth=creds from --creds tls
//! let client = settings.connect().await?;
//! # drop(client); Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use natsbridge_types::profile::{
    CONTEXT_CONFIG_FALLBACK, CONTEXT_DIR, CONTEXT_FIELDS, CONTEXT_FILE_EXTENSION, CONTEXT_REFERENCE_SCHEMES,
    CONTEXT_SELECTED_FILE, CONTEXT_UNSUPPORTED, DEFAULT_NATS_URL, ENV_HOME, ENV_NATS_CA, ENV_NATS_CERT,
    ENV_NATS_CONTEXT, ENV_NATS_CREDS, ENV_NATS_KEY, ENV_NATS_NKEY, ENV_NATS_PASSWORD, ENV_NATS_TOKEN,
    ENV_NATS_URL, ENV_NATS_USER, ENV_XDG_CONFIG_HOME, ERROR_CONNECT_SETTINGS,
};
use serde_json::Value;

use crate::error::{Error, Result};

/// What a caller (a CLI's flags, a program's arguments) says about the connection; `None`
/// and empty strings say nothing. Field names are the CLIs' flags.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnectFlags {
    /// `--server`: a URL or comma-separated seeds (user info in one is a credential).
    pub server: Option<String>,
    /// `--context`: a context name, or the path of a context file.
    pub context: Option<String>,
    /// `--no-context`: read no context, not even the selected one.
    pub no_context: bool,
    /// `--user` (needs a password).
    pub user: Option<String>,
    /// `--password` (a secret).
    pub password: Option<String>,
    /// `--token` (a secret).
    pub token: Option<String>,
    /// `--creds`: a `.creds` file (user JWT and NKey seed).
    pub creds: Option<String>,
    /// `--nkey`: a file holding an NKey user seed.
    pub nkey: Option<String>,
    /// `--tls-ca`: PEM certificate authorities to trust (instead of the system roots).
    pub tls_ca: Option<String>,
    /// `--tls-cert`: a PEM client certificate (needs `tls_key`).
    pub tls_cert: Option<String>,
    /// `--tls-key`: the client certificate's PEM key.
    pub tls_key: Option<String>,
    /// `--tls-first`: the TLS handshake before the server's INFO (servers with `handshake_first`).
    pub tls_first: bool,
}

impl std::fmt::Debug for ConnectFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| v.as_ref().map(|_| "<set>");
        f.debug_struct("ConnectFlags")
            .field("server", &self.server.as_deref().map(shown_seeds))
            .field("context", &self.context)
            .field("no_context", &self.no_context)
            .field("user", &self.user)
            .field("password", &set(&self.password))
            .field("token", &set(&self.token))
            .field("creds", &self.creds.as_deref().map(shown_material))
            .field("nkey", &self.nkey.as_deref().map(shown_material))
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("tls_first", &self.tls_first)
            .finish()
    }
}

impl ConnectFlags {
    /// The flags of a URL alone (what [`crate::connect`] takes).
    pub fn server(url: impl Into<String>) -> ConnectFlags {
        ConnectFlags { server: Some(url.into()), ..ConnectFlags::default() }
    }

    /// The value of a string setting, by its flag name.
    fn get(&self, flag: &str) -> Option<&str> {
        let v = match flag {
            "server" => &self.server,
            "user" => &self.user,
            "password" => &self.password,
            "token" => &self.token,
            "creds" => &self.creds,
            "nkey" => &self.nkey,
            "tls-ca" => &self.tls_ca,
            "tls-cert" => &self.tls_cert,
            "tls-key" => &self.tls_key,
            _ => &None,
        };
        v.as_deref().filter(|s| !s.trim().is_empty())
    }
}

/// A `creds` or `nkey` value as it may be printed: a path, or `<embedded>` for `data:` content.
fn shown_material(value: &str) -> &str {
    if scheme_of(value).as_deref() == Some("data") { "<embedded>" } else { value }
}

/// A secret (a password, a token, key material): shown as `<redacted>`, read with
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret's text, for the client that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Key material read from a file, or embedded in a context (`data:;base64,…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// A file to read when connecting.
    File(PathBuf),
    /// The content itself (decoded), embedded by `nats context save --embed`.
    Inline(Secret),
}

/// How the connection authenticates. Each credential names its `source`: `--token`,
/// `NATS_CREDS`, `context 'prod' \`creds\``, `the user info of NATS_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are named by what they hold
pub enum Auth {
    /// No credentials.
    None,
    /// A user and a password.
    UserPassword { user: String, password: Secret, source: String },
    /// A token.
    Token { token: Secret, source: String },
    /// A `.creds` file (operator mode: a user JWT and its seed).
    Creds { creds: Material, source: String },
    /// An NKey user seed.
    NKey { seed: Material, source: String },
}

impl Auth {
    /// `none`, `user_password`, `token`, `creds` or `nkey`.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::UserPassword { .. } => "user_password",
            Auth::Token { .. } => "token",
            Auth::Creds { .. } => "creds",
            Auth::NKey { .. } => "nkey",
        }
    }

    /// Where the credential came from (`None` without one).
    pub fn source(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::UserPassword { source, .. }
            | Auth::Token { source, .. }
            | Auth::Creds { source, .. }
            | Auth::NKey { source, .. } => Some(source),
        }
    }
}

/// TLS settings: files to trust and present, and whether TLS is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// PEM certificate authorities trusted instead of the system roots.
    pub ca: Option<PathBuf>,
    /// A PEM client certificate.
    pub cert: Option<PathBuf>,
    /// Its PEM key.
    pub key: Option<PathBuf>,
    /// The TLS handshake first.
    pub first: bool,
    /// TLS is required (a `tls://`/`wss://` seed, a file above, or `first`).
    pub required: bool,
}

/// Resolved connection settings. `Debug` and `Display` print [`ConnectSettings::shown`].
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectSettings {
    servers: Vec<String>,
    servers_source: String,
    context: Option<String>,
    auth: Auth,
    tls: Tls,
}

impl std::fmt::Display for ConnectSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl std::fmt::Debug for ConnectSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectSettings({})", self.shown())
    }
}

/// A refusal of the settings (`INVALID_ARGUMENT`).
fn refused(message: impl Into<String>) -> Error {
    Error::new(ERROR_CONNECT_SETTINGS, message)
}

impl ConnectSettings {
    /// Resolves `flags` with the process environment and the nats CLI's context files.
    pub fn resolve(flags: &ConnectFlags) -> Result<ConnectSettings> {
        Self::resolve_with(flags, |name| std::env::var(name).ok())
    }

    /// The settings of a URL alone, with the environment and context for what it does not
    /// say (what [`crate::connect`] does).
    pub fn from_url(url: &str) -> Result<ConnectSettings> {
        Self::resolve(&ConnectFlags::server(url))
    }

    /// Resolves `flags` with the environment `env` gives (a variable's value by name).
    pub fn resolve_with(
        flags: &ConnectFlags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ConnectSettings> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let context = Context::load(flags, &env)?;
        let pick = |flag: &str, var: &str| -> Option<(String, String)> {
            if let Some(v) = flags.get(flag) {
                return Some((v.to_owned(), format!("--{flag}")));
            }
            if let Some(v) = env(var) {
                return Some((v, var.to_owned()));
            }
            context.as_ref().and_then(|c| c.string(flag).map(|v| (v.to_owned(), c.source_of(flag))))
        };

        let (url, servers_source) = pick("server", ENV_NATS_URL)
            .unwrap_or_else(|| (DEFAULT_NATS_URL.to_owned(), "default".to_owned()));
        let mut servers = Vec::new();
        let mut url_auth = None;
        for seed in url.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (clean, found) = split_userinfo(seed)?;
            servers.push(clean);
            url_auth = url_auth.or(found);
        }
        if servers.is_empty() {
            return Err(refused(format!("{servers_source}: no server URL")));
        }
        let url_layer = match servers_source.as_str() {
            "default" => None,
            s if s.starts_with("--") || s == ENV_NATS_URL => Some(Layer::Explicit),
            _ => Some(Layer::Context),
        };
        let url_auth = url_auth.map(|a| (a, format!("the user info of {servers_source}")));

        let in_layer = |layer| {
            credentials(
                layer,
                flags,
                &env,
                context.as_ref(),
                (url_layer == Some(layer)).then_some(&url_auth).and_then(Option::as_ref),
            )
        };
        let auth = match in_layer(Layer::Explicit)? {
            Some(auth) => auth,
            None => in_layer(Layer::Context)?.unwrap_or(Auth::None),
        };

        let mut tls = Tls::default();
        let mut pair_sources = (String::new(), String::new());
        for (flag, var) in [("tls-ca", ENV_NATS_CA), ("tls-cert", ENV_NATS_CERT), ("tls-key", ENV_NATS_KEY)] {
            let Some((value, source)) = pick(flag, var) else { continue };
            match flag {
                "tls-cert" => pair_sources.0 = source.clone(),
                "tls-key" => pair_sources.1 = source.clone(),
                _ => {}
            }
            let path = match scheme_of(&value).as_deref() {
                None => expand(&value, &env),
                Some("file") => expand(file_path(&value, &source)?, &env),
                Some(_) => return Err(refused(format!("{source}: TLS files are paths, not references"))),
            };
            let slot = match flag {
                "tls-ca" => &mut tls.ca,
                "tls-cert" => &mut tls.cert,
                _ => &mut tls.key,
            };
            *slot = Some(PathBuf::from(path));
        }
        if tls.cert.is_some() != tls.key.is_some() {
            return Err(refused(if tls.cert.is_some() {
                format!("{} needs a key too (--tls-key, {ENV_NATS_KEY} or a context's key)", pair_sources.0)
            } else {
                format!(
                    "{} needs a certificate too (--tls-cert, {ENV_NATS_CERT} or a context's cert)",
                    pair_sources.1
                )
            }));
        }
        tls.first = flags.tls_first || context.as_ref().is_some_and(|c| c.tls_first);
        tls.required = tls.first
            || tls.ca.is_some()
            || tls.cert.is_some()
            || servers.iter().any(|s| s.starts_with("tls://") || s.starts_with("wss://")); // seeds' schemes are lowercase
        Ok(ConnectSettings { servers, servers_source, context: context.map(|c| c.name), auth, tls })
    }

    /// The seeds, without user info.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// Where the servers came from: `--server`, `NATS_URL`, `context 'NAME' \`url\``, `default`.
    pub fn servers_source(&self) -> &str {
        &self.servers_source
    }

    /// The name of the nats CLI context in use.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// The credentials.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The TLS settings.
    pub fn tls(&self) -> &Tls {
        &self.tls
    }

    /// The seeds as logs and envelopes show them, comma-separated (query redacted).
    pub fn shown_servers(&self) -> String {
        self.servers.iter().map(|s| shown_seed(s)).collect::<Vec<_>>().join(",")
    }

    /// The settings without any secret: `servers=… auth=<kind>[ from <source>][ context=<name>][ tls]`.
    pub fn shown(&self) -> String {
        let mut out = format!("servers={} auth={}", self.shown_servers(), self.auth.kind());
        if let Some(source) = self.auth.source() {
            out.push_str(&format!(" from {source}"));
        }
        if let Some(name) = &self.context {
            out.push_str(&format!(" context={name}"));
        }
        if self.tls.required {
            out.push_str(" tls");
        }
        out
    }

    /// The client options these settings make: credentials and TLS. A file that cannot be
    /// read is `INVALID_ARGUMENT` naming the setting it came from.
    pub(crate) async fn options(
        &self,
        mut options: async_nats::ConnectOptions,
    ) -> Result<async_nats::ConnectOptions> {
        let unreadable = |source: &str, path: &Path, e: std::io::Error| {
            refused(format!("{source} names {}, which cannot be read: {e}", path.display()))
        };
        options = match &self.auth {
            Auth::None => options,
            Auth::UserPassword { user, password, .. } => {
                options.user_and_password(user.clone(), password.0.clone())
            }
            Auth::Token { token, .. } => options.token(token.0.clone()),
            Auth::Creds { creds: Material::File(path), source } => {
                let text = std::fs::read_to_string(path).map_err(|e| unreadable(source, path, e))?;
                options
                    .credentials(&text)
                    .map_err(|e| refused(format!("{source}: not a .creds file: {e}")))?
            }
            Auth::Creds { creds: Material::Inline(text), source } => options
                .credentials(&text.0)
                .map_err(|e| refused(format!("{source}: the embedded creds are not a .creds file: {e}")))?,
            Auth::NKey { seed, source } => {
                let seed = match seed {
                    Material::File(path) => {
                        std::fs::read_to_string(path).map_err(|e| unreadable(source, path, e))?
                    }
                    Material::Inline(s) => s.0.clone(),
                };
                let seed = seed.trim().to_owned();
                nkeys::KeyPair::from_seed(&seed)
                    .map_err(|_| refused(format!("{source}: not an NKey seed (a line starting `SU`)")))?;
                options.nkey(seed)
            }
        };
        if let Some(ca) = &self.tls.ca {
            std::fs::metadata(ca).map_err(|e| unreadable("the TLS CA", ca, e))?;
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls.cert, &self.tls.key) {
            std::fs::metadata(cert).map_err(|e| unreadable("the TLS client certificate", cert, e))?;
            std::fs::metadata(key).map_err(|e| unreadable("the TLS client key", key, e))?;
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if self.tls.required {
            options = options.require_tls(true);
        }
        if self.tls.first {
            options = options.tls_first();
        }
        Ok(options)
    }
}

/// Where a credential was found: the caller's flags with the environment, or the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Explicit,
    Context,
}

/// The one credential of `layer`, or none; two kinds in it are refused naming both.
fn credentials(
    layer: Layer,
    flags: &ConnectFlags,
    env: &impl Fn(&str) -> Option<String>,
    context: Option<&Context>,
    url_auth: Option<&(Auth, String)>,
) -> Result<Option<Auth>> {
    let value = |flag: &str, var: &str| -> Option<(String, String)> {
        match layer {
            Layer::Explicit => flags
                .get(flag)
                .map(|v| (v.to_owned(), format!("--{flag}")))
                .or_else(|| env(var).map(|v| (v, var.to_owned()))),
            Layer::Context => context.and_then(|c| c.string(flag).map(|v| (v.to_owned(), c.source_of(flag)))),
        }
    };
    let mut found: Vec<(Auth, String)> = Vec::new();
    let user = value("user", ENV_NATS_USER);
    let password = value("password", ENV_NATS_PASSWORD);
    match (user, password) {
        (Some((user, us)), Some((password, ps))) => {
            let password = literal(password, &ps)?;
            let sources = format!("{us}, {ps}");
            found.push((
                Auth::UserPassword { user: literal(user, &us)?, password: Secret(password), source: us },
                sources,
            ));
        }
        (Some((_, us)), None) => {
            return Err(refused(format!(
                "{us} needs a password too (--password or {ENV_NATS_PASSWORD}); a token goes in --token / {ENV_NATS_TOKEN}"
            )));
        }
        (None, Some((_, ps))) => {
            return Err(refused(format!("{ps} needs a user too (--user or {ENV_NATS_USER})")));
        }
        (None, None) => {}
    }
    if let Some((token, ts)) = value("token", ENV_NATS_TOKEN) {
        found.push((Auth::Token { token: Secret(literal(token, &ts)?), source: ts.clone() }, ts));
    }
    if let Some((creds, cs)) = value("creds", ENV_NATS_CREDS) {
        found.push((Auth::Creds { creds: material(&creds, &cs, env)?, source: cs.clone() }, cs));
    }
    if let Some((seed, ns)) = value("nkey", ENV_NATS_NKEY) {
        found.push((Auth::NKey { seed: material(&seed, &ns, env)?, source: ns.clone() }, ns));
    }
    if let Some((auth, source)) = url_auth {
        let auth = match auth.clone() {
            Auth::UserPassword { user, password, .. } => {
                Auth::UserPassword { user, password, source: source.clone() }
            }
            Auth::Token { token, .. } => Auth::Token { token, source: source.clone() },
            other => other,
        };
        found.push((auth, source.clone()));
    }
    if found.len() > 1 {
        let named: Vec<String> =
            found.iter().map(|(auth, sources)| format!("{} ({sources})", auth.kind())).collect();
        let (last, rest) = named.split_last().expect("two or more");
        return Err(refused(format!("two kinds of credentials: {} and {last}; give one", rest.join(", "))));
    }
    Ok(found.pop().map(|(auth, _)| auth))
}

/// A token or password as written, unless it is a reference the nats CLI resolves.
fn literal(value: String, source: &str) -> Result<String> {
    if let Some(scheme) = scheme_of(&value)
        && let Some((_, what)) = CONTEXT_REFERENCE_SCHEMES.iter().find(|(s, _)| *s == scheme)
        && (value[scheme.len() + 1..].starts_with("//") || scheme == "data")
    {
        return Err(refused(format!(
            "{source} is {what} (`{scheme}:`), which only the nats CLI resolves; give the value itself"
        )));
    }
    Ok(value)
}

/// A `creds` or `nkey` value: a path, `file://PATH`, or `data:;base64,…`.
fn material(value: &str, source: &str, env: &impl Fn(&str) -> Option<String>) -> Result<Material> {
    match scheme_of(value).as_deref() {
        None => Ok(Material::File(PathBuf::from(expand(value, env)))),
        Some("file") => Ok(Material::File(PathBuf::from(expand(file_path(value, source)?, env)))),
        Some("data") => {
            let (head, payload) = value["data:".len()..].split_once(',').unwrap_or(("", ""));
            if !head.split(';').any(|p| p.trim() == "base64") {
                return Err(refused(format!("{source}: a data: reference must be ;base64")));
            }
            let bytes = base64_simd::STANDARD
                .decode_to_vec(payload.trim())
                .map_err(|_| refused(format!("{source}: the data: reference is not base64")))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| refused(format!("{source}: the embedded data is not text")))?;
            Ok(Material::Inline(Secret(text)))
        }
        Some(scheme) => Err(refused(format!(
            "{source}: `{scheme}://` references are resolved by the nats CLI's helpers, not here; give a file path"
        ))),
    }
}

/// The path of a `file:` reference: `file:` off, then `//` if present (`file:///k/x` and
/// `file:/k/x` are `/k/x`); nothing left is refused.
fn file_path<'a>(value: &'a str, source: &str) -> Result<&'a str> {
    let rest = &value["file:".len()..];
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.trim().is_empty() {
        return Err(refused(format!("{source}: a `file:` reference needs a path")));
    }
    Ok(path)
}

/// The scheme of a reference (two characters at least, so `C:\…` is a path), lowercased.
fn scheme_of(value: &str) -> Option<String> {
    let (scheme, _) = value.split_once(':')?;
    let mut chars = scheme.chars();
    let ok = scheme.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    ok.then(|| scheme.to_ascii_lowercase())
}

/// `$VAR`, `${VAR}` and a leading `~` expanded, as the nats CLI does in its context paths.
fn expand(path: &str, env: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, next) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            out.push('$');
        } else {
            out.push_str(&env(name).unwrap_or_default());
        }
        rest = next;
    }
    out.push_str(rest);
    // Only `~` and `~/…` are the home (`~alice/…` is written as meant).
    match (out.strip_prefix('~'), env(ENV_HOME)) {
        (Some(tail), Some(home)) if tail.is_empty() || tail.starts_with('/') => format!("{home}{tail}"),
        _ => out,
    }
}

/// One seed as written, without its user info, and the credential that user info was. A
/// seed without a scheme is read as `nats://` first (so `alice:pw@host:4222` is never taken
/// for a URL of scheme `alice`); the scheme is lowercased; nothing else changes. `alice:@h`
/// is the user `alice` with an empty password, `@h` no credential.
fn split_userinfo(seed: &str) -> Result<(String, Option<Auth>)> {
    let full = if seed.contains("://") { seed.to_owned() } else { format!("nats://{seed}") };
    if url::Url::parse(&full).is_err() {
        return Err(refused("a server URL does not parse (it is not shown: it may hold a password)"));
    }
    let (scheme, rest) = full.split_once("://").expect("a scheme");
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (userinfo, host) = match rest[..authority_end].rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let clean = format!("{}://{host}", scheme.to_ascii_lowercase());
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let auth = match userinfo {
        None | Some("") => None,
        Some(info) => Some(match info.split_once(':') {
            Some((user, password)) => Auth::UserPassword {
                user: decode(user),
                password: Secret(decode(password)),
                source: String::new(),
            },
            None => Auth::Token { token: Secret(decode(info)), source: String::new() },
        }),
    };
    Ok((clean, auth))
}

/// A seed as logs, errors and envelopes show it: as written, a query as `?REDACTED`.
fn shown_seed(seed: &str) -> String {
    match seed.split_once('?') {
        Some((before, _)) => format!("{before}?REDACTED"),
        None => seed.to_owned(),
    }
}

/// Seeds as a message may show them (user info removed, `nats://` added, the scheme
/// lowercased, a query redacted); a seed that does not parse as `<unparseable url>`.
pub(crate) fn shown_seeds(url: &str) -> String {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            split_userinfo(s).map_or_else(|_| "<unparseable url>".to_owned(), |(clean, _)| shown_seed(&clean))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The nats CLI context in use.
struct Context {
    name: String,
    fields: serde_json::Map<String, Value>,
    tls_first: bool,
}

impl Context {
    /// The context `flags` and the environment name (`--context`, `NATS_CONTEXT`, the
    /// selected one), read and checked; `None` when none is named or selected.
    fn load(flags: &ConnectFlags, env: &impl Fn(&str) -> Option<String>) -> Result<Option<Context>> {
        if flags.no_context {
            return Ok(None);
        }
        let (named, mut origin) = match flags.context.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(n) => (Some(n.to_owned()), "--context".to_owned()),
            None => (env(ENV_NATS_CONTEXT), ENV_NATS_CONTEXT.to_owned()),
        };
        let (name, path) = match named {
            Some(n) if n.ends_with(CONTEXT_FILE_EXTENSION) && Path::new(&n).is_file() => {
                let path = PathBuf::from(&n);
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                (stem, path)
            }
            named => {
                let root = match env(ENV_XDG_CONFIG_HOME) {
                    Some(xdg) => PathBuf::from(xdg),
                    None => match env(ENV_HOME) {
                        Some(home) => Path::new(&home).join(CONTEXT_CONFIG_FALLBACK),
                        None if named.is_none() => return Ok(None),
                        None => {
                            return Err(refused(format!(
                                "{origin}: cannot find the nats CLI's contexts: neither {ENV_XDG_CONFIG_HOME} nor {ENV_HOME} is set"
                            )));
                        }
                    },
                };
                let name = match named {
                    Some(n) => n,
                    None => {
                        let selected = root.join(CONTEXT_SELECTED_FILE);
                        let n = match std::fs::read_to_string(&selected) {
                            Ok(text) => text.trim().to_owned(),
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                            Err(e) => {
                                return Err(refused(format!(
                                    "{}, which names the selected nats CLI context, cannot be read: {e}",
                                    selected.display()
                                )));
                            }
                        };
                        if n.is_empty() {
                            return Ok(None);
                        }
                        origin = selected.display().to_string();
                        n
                    }
                };
                if name.is_empty() || name.contains("..") || name.contains('/') || name.contains('\\') {
                    return Err(refused(format!(
                        "{origin}: {name:?} is not a context name (empty, `..`, `/` or `\\`)"
                    )));
                }
                let path = root.join(CONTEXT_DIR).join(format!("{name}{CONTEXT_FILE_EXTENSION}"));
                if !path.is_file() {
                    return Err(refused(format!(
                        "{origin}: the nats CLI context {name:?} does not exist ({})",
                        path.display()
                    )));
                }
                (name, path)
            }
        };
        let shown = path.display();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| refused(format!("context {name:?} ({shown}) cannot be read: {e}")))?;
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&text) else {
            return Err(refused(format!("context {name:?} ({shown}) is not a JSON object")));
        };
        for (flag, field) in CONTEXT_FIELDS {
            let ok = match fields.get(*field) {
                None | Some(Value::Null) => true,
                Some(Value::Bool(_)) => *flag == "tls-first",
                Some(Value::String(_)) => *flag != "tls-first",
                Some(_) => false,
            };
            if !ok {
                return Err(refused(format!("context {name:?} ({shown}): `{field}` has the wrong type")));
            }
        }
        for (field, what) in CONTEXT_UNSUPPORTED {
            let set = match fields.get(*field) {
                None | Some(Value::Null) | Some(Value::Bool(false)) => false,
                Some(Value::String(s)) => !s.trim().is_empty(),
                Some(Value::Array(a)) => !a.is_empty(),
                Some(Value::Object(o)) => !o.is_empty(),
                Some(_) => true,
            };
            if set {
                return Err(refused(format!(
                    "context {name:?} ({shown}) uses `{field}` ({what}), which NATSBridge does not support"
                )));
            }
        }
        let tls_first = fields.get(field_of("tls-first")).and_then(Value::as_bool).unwrap_or(false);
        Ok(Some(Context { name, fields, tls_first }))
    }

    /// A string setting of the context, by flag name; empty is unset.
    fn string(&self, flag: &str) -> Option<&str> {
        self.fields.get(field_of(flag)).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
    }

    /// `context 'NAME' \`field\``.
    fn source_of(&self, flag: &str) -> String {
        format!("context '{}' `{}`", self.name, field_of(flag))
    }
}

/// The context field of a setting (the profile's `CONTEXT_FIELDS`).
fn field_of(flag: &str) -> &'static str {
    CONTEXT_FIELDS.iter().find(|(f, _)| *f == flag).map_or("", |(_, field)| field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_printed() {
        let flags = ConnectFlags {
            server: Some("nats://alice:pa55word@h:4222,nats://b:1?sig=zz".into()),
            token: Some("t0ken".into()),
            ..ConnectFlags::default()
        };
        let printed = format!("{flags:?}");
        assert!(
            !printed.contains("pa55word") && !printed.contains("t0ken") && !printed.contains("zz"),
            "{printed}"
        );
        let err = ConnectSettings::resolve_with(&flags, |_| None).unwrap_err();
        assert!(err.to_string().contains("--token") && err.to_string().contains("--server"), "{err}");
        assert!(!err.to_string().contains("pa55word"), "{err}");

        let settings =
            ConnectSettings::resolve_with(&ConnectFlags::server("alice:pa55word@h:4222"), |_| None).unwrap();
        assert_eq!(settings.servers(), ["nats://h:4222"]);
        assert!(
            matches!(settings.auth(), Auth::UserPassword { user, password, .. } if user == "alice" && password.expose() == "pa55word")
        );
        for printed in [format!("{settings}"), format!("{settings:?}"), format!("{:?}", settings.auth())] {
            assert!(!printed.contains("pa55word"), "{printed}");
        }
    }

    #[test]
    fn paths_expand_like_the_nats_cli() {
        let env = |name: &str| match name {
            name if name == ENV_HOME => Some("/home/u".to_owned()),
            "X" => Some("x".to_owned()),
            _ => None,
        };
        assert_eq!(expand("~/a", &env), "/home/u/a");
        assert_eq!(expand("$HOME/b/${X}/$NOPE/c$", &env), "/home/u/b/x//c$");
        assert_eq!(scheme_of("C:\\x"), None);
        assert_eq!(scheme_of("op://vault/item").as_deref(), Some("op"));
    }
}
