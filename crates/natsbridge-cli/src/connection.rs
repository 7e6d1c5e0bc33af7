//! The NATS connection flags every command that connects takes, the nats CLI's names
//! (`--server`, `--context`, `--creds`, `--nkey`, `--token`, `--user`/`--password`,
//! `--tls-ca`, `--tls-cert`/`--tls-key`, `--tls-first`) and its environment variables,
//! resolved by the runtime's one rule ([`natsbridge::settings`]). The variables are read by
//! the resolver, not by clap, so the source of each setting is known and no help text shows
//! a value.

use natsbridge::settings::{ConnectFlags, ConnectSettings, Secret};
use natsbridge::types::profile;

/// Where the NATS server is and how to authenticate.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct NatsArgs {
    /// NATS server URL, or a cluster's seeds separated by commas (the client moves to
    /// another when one goes away) [default: NATS_URL, the context's, nats://localhost:4222]
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// A nats CLI context: a name (`~/.config/nats/context/NAME.json`) or a context file's
    /// path [default: NATS_CONTEXT, else the one `nats context select` chose]
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Read no nats CLI context, not even the selected one.
    #[arg(long, conflicts_with = "context")]
    no_context: bool,
    /// User name (with --password) [default: NATS_USER]
    #[arg(long)]
    user: Option<String>,
    /// Password of --user [default: NATS_PASSWORD, which `ps` cannot see]
    #[arg(long)]
    password: Option<Secret>,
    /// Authentication token [default: NATS_TOKEN, which `ps` cannot see]
    #[arg(long)]
    token: Option<Secret>,
    /// A .creds file: a user JWT and its NKey seed (operator mode) [default: NATS_CREDS]
    #[arg(long, value_name = "FILE")]
    creds: Option<String>,
    /// A file holding an NKey user seed (`SU…`) [default: NATS_NKEY]
    #[arg(long, value_name = "FILE")]
    nkey: Option<String>,
    /// PEM certificate authorities to trust instead of the system roots [default: NATS_CA]
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<String>,
    /// PEM client certificate, for servers that verify clients [default: NATS_CERT]
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<String>,
    /// PEM key of --tls-cert [default: NATS_KEY]
    #[arg(long, value_name = "FILE")]
    tls_key: Option<String>,
    /// TLS handshake before the server's INFO (servers configured with `handshake_first`).
    #[arg(long)]
    tls_first: bool,
}

impl NatsArgs {
    /// The settings these flags, the environment and the context in use resolve to.
    pub(crate) fn settings(&self) -> natsbridge::Result<ConnectSettings> {
        ConnectSettings::resolve(&ConnectFlags {
            server: self.server.clone(),
            context: self.context.clone(),
            no_context: self.no_context,
            user: self.user.clone(),
            password: self.password.as_ref().map(|s| s.expose().to_owned()),
            token: self.token.as_ref().map(|s| s.expose().to_owned()),
            creds: self.creds.clone(),
            nkey: self.nkey.clone(),
            tls_ca: self.tls_ca.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            tls_first: self.tls_first,
        })
    }

    /// Connects with [`NatsArgs::settings`].
    pub(crate) async fn connect(&self) -> natsbridge::Result<async_nats::Client> {
        let settings = self.settings()?;
        // What was resolved, without a secret: which servers, which credential from where.
        tracing::debug!(target: "natsbridge::settings", %settings, "connecting");
        settings.connect().await
    }
}

/// The Plik-compatible file server links are uploaded to, and its token.
#[derive(Debug, clap::Args)]
pub(crate) struct FileserverArgs {
    /// Plik-compatible file server for link payloads (with `--store plik`).
    #[arg(long, env = profile::ENV_FILESERVER_URL, default_value = natsbridge::config::DEFAULT_FILESERVER_URL)]
    pub(crate) fileserver: String,
    /// Token the file server asks of uploads (`natsbridge fileserver --token`).
    #[arg(long, env = profile::ENV_FILESERVER_TOKEN, hide_env_values = true, value_name = "TOKEN")]
    pub(crate) fileserver_token: Option<Secret>,
}

impl FileserverArgs {
    /// The Plik store these flags name.
    pub(crate) fn store(&self) -> natsbridge::blob::PlikStore {
        let store = natsbridge::blob::PlikStore::new(self.fileserver.as_str())
            .source("--fileserver or FILESERVER_URL");
        match &self.fileserver_token {
            Some(token) => store.token(token.expose()),
            None => store,
        }
    }
}
