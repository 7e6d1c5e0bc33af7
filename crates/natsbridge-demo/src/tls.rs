//! A throw-away certificate authority and server certificate for the dashboard's WebSocket
//! listener over TLS (`natsbridge-demo dashboard --ws-tls`): the test kit's [`Pki`] (made with
//! the `openssl` binary, removed on drop), and the base64 SHA-256 of the server certificate's
//! SubjectPublicKeyInfo, the pin Chromium takes in `--ignore-certificate-errors-spki-list` (a
//! browser trusts that one certificate, and no other, without a change to its trust store).

use std::path::PathBuf;

use natsbridge_testkit::secure::Pki;

/// The files of one generated set, removed on drop.
#[derive(Debug)]
pub(crate) struct TestCerts {
    _pki: Pki,
    /// The CA certificate (PEM): what a client that verifies trusts.
    pub(crate) ca: PathBuf,
    /// The server certificate (PEM) and its key (PEM, mode 0600).
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// base64(SHA-256(SubjectPublicKeyInfo DER)) of the server certificate.
    pub(crate) spki_sha256: String,
}

/// Makes a CA and a server certificate for `127.0.0.1` / `localhost`, valid two days.
pub(crate) fn generate() -> Result<TestCerts, String> {
    let pki = Pki::generate().map_err(|e| format!("--ws-tls: {e}"))?;
    let spki_sha256 = pki.server_spki_sha256().map_err(|e| format!("--ws-tls: {e}"))?;
    Ok(TestCerts {
        ca: pki.ca.clone(),
        cert: pki.server_cert.clone(),
        key: pki.server_key.clone(),
        spki_sha256,
        _pki: pki,
    })
}
