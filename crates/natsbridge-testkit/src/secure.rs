//! Secured nats-servers, as production runs them, with everything a test needs to reach
//! them made for the test:
//!
//! - [`Pki`]: a certificate authority, a server certificate for `127.0.0.1`/`localhost`, a
//!   client certificate, and a second, unrelated CA (made with the `openssl` binary);
//! - [`Secrets`]: a token, a user and password, an NKey user (seed file and public key, with
//!   the `nkeys` crate async-nats signs with), and operator-mode `.creds` (operator, account
//!   and user JWTs made by nats-io's own `@nats-io/jwt`, run with `node`: no JWT is signed
//!   by hand here);
//! - [`Guard`]: how a server authenticates clients, written as nats-server configuration
//!   for [`NatsServer::start_with_config`].
//!
//! ```no_run
//! use natsbridge_testkit::secure::{Guard, Secrets};
//! let secrets = Secrets::generate()?;
//! let server = secrets.start(Guard::Creds, true)?; // operator mode, TLS required
//! println!("{} trusts {}", server.url(), secrets.pki.ca.display());
//! # Ok::<(), natsbridge_testkit::Error>(())
//! ```

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Error, NatsServer, process, project_root};

/// How to get openssl when there is none, for error messages.
pub const OPENSSL_HINT: &str = "install it (Debian: `apt-get install openssl`)";

/// Test certificates, in a directory removed on drop.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
    /// The test CA's certificate (PEM): what a client trusts.
    pub ca: PathBuf,
    /// Another CA, which signed nothing the server presents: trusting only it must fail.
    pub wrong_ca: PathBuf,
    /// The server's certificate (SAN `127.0.0.1`, `::1`, `localhost`) and key.
    pub server_cert: PathBuf,
    /// The server certificate's key (PEM, mode 0600).
    pub server_key: PathBuf,
    /// A client certificate the CA signed, for servers that verify clients, and its key.
    pub client_cert: PathBuf,
    /// The client certificate's key.
    pub client_key: PathBuf,
}

impl Pki {
    /// Makes the certificates (EC P-256, valid two days).
    pub fn generate() -> Result<Pki, Error> {
        let dir = tempfile::Builder::new()
            .prefix("natsbridge-pki-")
            .tempdir()
            .map_err(|e| Error::new(format!("a temporary directory: {e}")))?;
        let d = dir.path();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        for (name, cn) in [("ca", "NATSBridge Test CA"), ("wrong-ca", "Some Other CA")] {
            openssl(
                d,
                &[
                    &["req", "-x509"][..],
                    &ec,
                    &[
                        "-days",
                        "2",
                        "-keyout",
                        &format!("{name}-key.pem"),
                        "-out",
                        &format!("{name}.pem"),
                        "-subj",
                        &format!("/CN={cn}"),
                        "-addext",
                        "basicConstraints=critical,CA:TRUE",
                        "-addext",
                        "keyUsage=critical,keyCertSign,cRLSign",
                    ],
                ]
                .concat(),
            )?;
        }
        for (name, cn, ext) in [
            (
                "server",
                "localhost",
                "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n",
            ),
            ("client", "natsbridge-client", "extendedKeyUsage=clientAuth\n"),
        ] {
            let ext_file = format!("{name}.ext");
            std::fs::write(
                d.join(&ext_file),
                format!(
                    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n{ext}"
                ),
            )
            .map_err(|e| Error::new(format!("{ext_file}: {e}")))?;
            let (key, csr, cert) =
                (format!("{name}-key.pem"), format!("{name}.csr"), format!("{name}-cert.pem"));
            openssl(
                d,
                &[&["req"][..], &ec, &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={cn}")]]
                    .concat(),
            )?;
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca-key.pem",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &ext_file,
                    "-out",
                    &cert,
                ],
            )?;
        }
        let path = |name: &str| d.join(name);
        Ok(Pki {
            ca: path("ca.pem"),
            wrong_ca: path("wrong-ca.pem"),
            server_cert: path("server-cert.pem"),
            server_key: path("server-key.pem"),
            client_cert: path("client-cert.pem"),
            client_key: path("client-key.pem"),
            dir,
        })
    }

    /// The base64 SHA-256 of the server certificate's SubjectPublicKeyInfo: the pin Chromium
    /// takes in `--ignore-certificate-errors-spki-list`, so a browser trusts that one
    /// certificate without a change to its trust store.
    pub fn server_spki_sha256(&self) -> Result<String, Error> {
        let d = self.dir.path();
        openssl(d, &["x509", "-in", "server-cert.pem", "-pubkey", "-noout", "-out", "server-pub.pem"])?;
        openssl(d, &["pkey", "-pubin", "-in", "server-pub.pem", "-outform", "der", "-out", "spki.der"])?;
        openssl(d, &["dgst", "-sha256", "-binary", "-out", "spki.sha256", "spki.der"])?;
        openssl(d, &["base64", "-A", "-in", "spki.sha256", "-out", "spki.b64"])?;
        let pin =
            std::fs::read_to_string(d.join("spki.b64")).map_err(|e| Error::new(format!("spki.b64: {e}")))?;
        let pin = pin.trim().to_owned();
        if pin.len() != 44 {
            return Err(Error::new(format!("openssl gave `{pin}` for the SPKI pin, not 32 bytes in base64")));
        }
        Ok(pin)
    }

    /// A nats-server `tls { … }` block presenting the server certificate; with
    /// `verify_clients`, clients must present a certificate the CA signed.
    pub fn server_config(&self, verify_clients: bool) -> String {
        let verify = if verify_clients {
            format!("  ca_file: {:?}\n  verify: true\n", self.ca.display().to_string())
        } else {
            String::new()
        };
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n{verify}  timeout: 2\n}}\n",
            self.server_cert.display().to_string(),
            self.server_key.display().to_string()
        )
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), Error> {
    let out = process::command("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| Error::new(format!("running openssl: {e}; {OPENSSL_HINT}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// How a server authenticates its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// No credentials (TLS may still be required).
    Open,
    /// [`Secrets::token`].
    Token,
    /// [`Secrets::user`] with [`Secrets::password`].
    UserPassword,
    /// The NKey user of [`Secrets::nkey_seed`].
    NKey,
    /// Operator mode: the user of [`Secrets::creds`] (its account has JetStream).
    Creds,
    /// TLS with client certificates verified (mutual TLS), and no other credentials.
    ClientCertificate,
}

/// Everything secret a test hands out, made for the test, in a directory removed on drop.
#[derive(Debug)]
pub struct Secrets {
    dir: tempfile::TempDir,
    /// The certificates.
    pub pki: Pki,
    /// A token.
    pub token: String,
    /// A user name (not secret) …
    pub user: String,
    /// … and its password.
    pub password: String,
    /// A file holding an NKey user seed (`SU…`).
    pub nkey_seed: PathBuf,
    /// That user's public key (`U…`), what the server lists.
    pub nkey_public: String,
    /// A `.creds` file of a user of the account `APP` (JetStream enabled).
    pub creds: PathBuf,
    /// A `.creds` file of a user of an account the server does not know.
    pub stranger_creds: PathBuf,
    operator: Value,
}

impl Secrets {
    /// Makes the certificates, the token, the password, an NKey user and operator-mode
    /// credentials.
    pub fn generate() -> Result<Secrets, Error> {
        let dir = tempfile::Builder::new()
            .prefix("natsbridge-secrets-")
            .tempdir()
            .map_err(|e| Error::new(format!("a temporary directory: {e}")))?;
        let unique = {
            use std::time::{SystemTime, UNIX_EPOCH};
            let nanos =
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
            format!("{nanos:x}{:x}", std::process::id())
        };
        let user = nkeys::KeyPair::new_user();
        let seed = user.seed().map_err(|e| Error::new(format!("an NKey seed: {e}")))?;
        let nkey_seed = dir.path().join("user.nk");
        std::fs::write(&nkey_seed, format!("{seed}\n")).map_err(|e| Error::new(format!("user.nk: {e}")))?;
        let operator_dir = dir.path().join("operator");
        let script = project_root().join("crates/natsbridge-testkit/scripts/operator.mjs");
        let out = process::command("node").arg(&script).arg(&operator_dir).output().map_err(|e| {
            Error::new(format!("running node {}: {e}; install Node.js 20+", script.display()))
        })?;
        if !out.status.success() {
            return Err(Error::new(format!(
                "{} failed (run `npm ci` in {} for @nats-io/jwt): {}",
                script.display(),
                project_root().display(),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let operator: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::new(format!("{} printed no JSON: {e}", script.display())))?;
        Ok(Secrets {
            pki: Pki::generate()?,
            token: format!("tok-{unique}"),
            user: "alice".into(),
            password: format!("pw-{unique}"),
            nkey_seed,
            nkey_public: user.public_key(),
            creds: operator_dir.join("app.creds"),
            stranger_creds: operator_dir.join("stranger.creds"),
            operator,
            dir,
        })
    }

    /// A scratch directory inside the secrets' own (for context files, spools).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every secret value a test must never see printed: the token, the password, the seed,
    /// and the JWTs and seed of the `.creds` file.
    pub fn values(&self) -> Vec<String> {
        let mut out = vec![self.token.clone(), self.password.clone()];
        out.extend(std::fs::read_to_string(&self.nkey_seed).ok().map(|s| s.trim().to_owned()));
        let creds = std::fs::read_to_string(&self.creds).unwrap_or_default();
        out.extend(
            creds
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("eyJ") || l.starts_with("SU"))
                .map(str::to_owned),
        );
        out
    }

    /// The nats-server configuration of `guard` (and of TLS, when `tls`).
    pub fn server_config(&self, guard: Guard, tls: bool) -> String {
        let mut config = match guard {
            Guard::Open | Guard::ClientCertificate => String::new(),
            Guard::Token => format!("authorization {{ token: {:?} }}\n", self.token),
            Guard::UserPassword => format!(
                "authorization {{ users: [ {{ user: {:?}, password: {:?} }} ] }}\n",
                self.user, self.password
            ),
            Guard::NKey => format!("authorization {{ users: [ {{ nkey: {:?} }} ] }}\n", self.nkey_public),
            Guard::Creds => {
                let preload = self.operator["preload"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(account, jwt)| format!("  {account}: {jwt}\n"))
                    .collect::<String>();
                format!(
                    "operator: {}\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n",
                    self.operator["operator"],
                    self.operator["system_account"].as_str().unwrap_or_default()
                )
            }
        };
        if tls || guard == Guard::ClientCertificate {
            config.push_str(&self.pki.server_config(guard == Guard::ClientCertificate));
        }
        config
    }

    /// A nats-server (JetStream on) guarded by `guard`, requiring TLS when `tls`.
    pub fn start(&self, guard: Guard, tls: bool) -> Result<NatsServer, Error> {
        NatsServer::start_with_config(&self.server_config(guard, tls))
    }
}
