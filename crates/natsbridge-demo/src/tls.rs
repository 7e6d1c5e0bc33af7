//! A throw-away certificate authority and server certificate for the dashboard's WebSocket
//! listener over TLS (`natsbridge-demo dashboard --ws-tls`), made at start-up with the
//! `openssl` binary (no certificate crate is in the workspace): an EC P-256 CA, a server
//! certificate it signs for `127.0.0.1` and `localhost`, and the base64 SHA-256 of the server
//! certificate's SubjectPublicKeyInfo, the pin Chromium takes in
//! `--ignore-certificate-errors-spki-list` (a browser trusts that one certificate, and no
//! other, without a change to its trust store).

use std::path::{Path, PathBuf};

use natsbridge_testkit::process::command;

/// The files of one generated set, in a private directory removed on drop.
#[derive(Debug)]
pub(crate) struct TestCerts {
    dir: PathBuf,
    /// The CA certificate (PEM): what a client that verifies trusts.
    pub(crate) ca: PathBuf,
    /// The server certificate (PEM) and its key (PEM, mode 0600).
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// base64(SHA-256(SubjectPublicKeyInfo DER)) of the server certificate.
    pub(crate) spki_sha256: String,
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = command("openssl").args(args).current_dir(dir).output().map_err(|e| {
        format!("running openssl (needed for --ws-tls; Debian: apt-get install openssl): {e}")
    })?;
    if !out.status.success() {
        return Err(format!(
            "openssl {} failed ({}): {}",
            args.first().unwrap_or(&""),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes a CA and a server certificate for `127.0.0.1` / `localhost`, valid two days, in a
/// fresh directory under the temp dir (mode 0700).
pub(crate) fn generate() -> Result<TestCerts, String> {
    use std::os::unix::fs::DirBuilderExt as _;
    let dir = std::env::temp_dir().join(format!("natsbridge-dashboard-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut certs = TestCerts {
        ca: dir.join("ca.pem"),
        cert: dir.join("server-cert.pem"),
        key: dir.join("server-key.pem"),
        spki_sha256: String::new(),
        dir,
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca = [&["req", "-x509"][..], &ec, &["-days", "2", "-keyout", "ca-key.pem", "-out", "ca.pem"]];
    let mut args: Vec<&str> = ca.concat();
    args.extend([
        "-subj",
        "/CN=NATSBridge dashboard test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&certs.dir, &args)?;
    std::fs::write(
        certs.dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .map_err(|e| format!("writing server.ext: {e}"))?;
    let mut args: Vec<&str> = [&["req"][..], &ec].concat();
    args.extend(["-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=localhost"]);
    openssl(&certs.dir, &args)?;
    openssl(
        &certs.dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server-cert.pem",
        ],
    )?;
    // The pin: SHA-256 over the DER SubjectPublicKeyInfo, base64.
    openssl(&certs.dir, &["x509", "-in", "server-cert.pem", "-pubkey", "-noout", "-out", "server-pub.pem"])?;
    openssl(&certs.dir, &["pkey", "-pubin", "-in", "server-pub.pem", "-outform", "der", "-out", "spki.der"])?;
    openssl(&certs.dir, &["dgst", "-sha256", "-binary", "-out", "spki.sha256", "spki.der"])?;
    certs.spki_sha256 = openssl(&certs.dir, &["base64", "-A", "-in", "spki.sha256"])?.trim().to_owned();
    if certs.spki_sha256.len() != 44 {
        return Err(format!("openssl gave `{}` for the SPKI pin, not 32 bytes in base64", certs.spki_sha256));
    }
    for f in ["ca-key.pem", "server.csr", "ca.srl", "server-pub.pem", "spki.der", "spki.sha256"] {
        let _ = std::fs::remove_file(certs.dir.join(f));
    }
    Ok(certs)
}
