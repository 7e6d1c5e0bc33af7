"""The NATS connection flags every command takes (``--server``, ``--context``, ``--no-context``,
``--user``, ``--password``, ``--token``, ``--creds``, ``--nkey``, ``--tls-ca``, ``--tls-cert``,
``--tls-key``, ``--tls-first``) and the file server's ``--fileserver-token``, as the Rust and
TypeScript CLIs take them. The flags default to nothing: the runtime's resolver reads the
environment and the nats CLI's context itself (:func:`natsbridge.settings.resolve`), so every
error names where a setting came from, and no help text prints a variable's value."""

from __future__ import annotations

import argparse
import os

from natsbridge_types.profile import (
    CONTEXT_DIR,
    CONTEXT_FILE_EXTENSION,
    DEFAULT_NATS_URL,
    ENV_FILESERVER_TOKEN,
    ENV_NATS_CA,
    ENV_NATS_CERT,
    ENV_NATS_CONTEXT,
    ENV_NATS_CREDS,
    ENV_NATS_KEY,
    ENV_NATS_NKEY,
    ENV_NATS_PASSWORD,
    ENV_NATS_TOKEN,
    ENV_NATS_URL,
    ENV_NATS_USER,
    ENV_XDG_CONFIG_HOME,
)

from ..settings import ConnectSettings, resolve

__all__ = ["ENVIRONMENT", "add_connect_flags", "add_fileserver_token_flag", "check_connect_flags", "settings_of"]

ENVIRONMENT = (ENV_NATS_URL, ENV_NATS_CONTEXT, ENV_NATS_USER, ENV_NATS_PASSWORD, ENV_NATS_TOKEN, ENV_NATS_CREDS,
               ENV_NATS_NKEY, ENV_NATS_CA, ENV_NATS_CERT, ENV_NATS_KEY)
"""The variables the connection flags fall back on, in the order the help lists them."""

_VISIBLE = "on a command line it is visible to other users (ps): prefer the variable"


def add_connect_flags(p: argparse.ArgumentParser) -> None:
    """The connection flags, in a group of their own."""
    g = p.add_argument_group(
        "NATS connection",
        "Each setting comes from its flag, else its environment variable, else the nats CLI's context in use "
        "(--context, else $NATS_CONTEXT, else the one `nats context select` chose), else the default. Credentials "
        "are one unit: flags and variables together, else the context's; two kinds at once are an error.")
    g.add_argument("--server", metavar="URL",
                   help=f"NATS server URL, or a cluster's seeds separated by commas (env {ENV_NATS_URL}; else the "
                        f"context's url; else {DEFAULT_NATS_URL}). user:password@ or token@ in it are credentials")
    g.add_argument("--context", metavar="NAME|PATH",
                   help=f"the nats CLI context: a name (${ENV_XDG_CONFIG_HOME} or ~/.config, then "
                        f"{CONTEXT_DIR}/NAME{CONTEXT_FILE_EXTENSION}) or the path of a {CONTEXT_FILE_EXTENSION} "
                        f"file (env {ENV_NATS_CONTEXT}; default: the selected context)")
    g.add_argument("--no-context", action="store_true", help="use no nats CLI context, not even the selected one")
    g.add_argument("--user", metavar="NAME", help=f"user name, with --password (env {ENV_NATS_USER})")
    g.add_argument("--password", metavar="PASSWORD",
                   help=f"the user's password (env {ENV_NATS_PASSWORD}; {_VISIBLE})")
    g.add_argument("--token", metavar="TOKEN", help=f"authentication token (env {ENV_NATS_TOKEN}; {_VISIBLE})")
    g.add_argument("--creds", metavar="FILE",
                   help=f"a .creds file: user JWT and NKey seed, for operator mode (env {ENV_NATS_CREDS})")
    g.add_argument("--nkey", metavar="FILE", help=f"a file holding an NKey user seed (env {ENV_NATS_NKEY})")
    g.add_argument("--tls-ca", metavar="FILE",
                   help=f"PEM certificate authorities to trust for the server, instead of the system's "
                        f"(env {ENV_NATS_CA})")
    g.add_argument("--tls-cert", metavar="FILE",
                   help=f"PEM client certificate, for servers that verify clients; needs --tls-key (env {ENV_NATS_CERT})")
    g.add_argument("--tls-key", metavar="FILE", help=f"the client certificate's PEM private key (env {ENV_NATS_KEY})")
    g.add_argument("--tls-first", action="store_true",
                   help="TLS handshake first, before the server's INFO (servers with handshake_first)")


def add_fileserver_token_flag(p: argparse.ArgumentParser) -> None:
    """``--fileserver-token``, beside ``--fileserver``, for commands that upload."""
    p.add_argument("--fileserver-token", metavar="TOKEN",
                   help=f"the token of a file server started with one (natsbridge fileserver --token) "
                        f"(env {ENV_FILESERVER_TOKEN}; {_VISIBLE})")


def check_connect_flags(a: argparse.Namespace) -> str | None:
    """The usage error of the connection flags in ``a``, if any: ``--context`` with
    ``--no-context``."""
    if a.context is not None and a.no_context:
        return "--context and --no-context cannot be used together"
    return None


def settings_of(a: argparse.Namespace) -> ConnectSettings:
    """The connection settings of the flags in ``a``, the process's environment and the nats
    CLI's context; ``INVALID_ARGUMENT`` naming the sources of what cannot be used."""
    flags: dict[str, object] = {
        "server": a.server, "context": a.context, "no-context": a.no_context, "user": a.user, "password": a.password,
        "token": a.token, "creds": a.creds, "nkey": a.nkey, "tls-ca": a.tls_ca, "tls-cert": a.tls_cert,
        "tls-key": a.tls_key, "tls-first": a.tls_first,
    }
    return resolve(flags, os.environ)
