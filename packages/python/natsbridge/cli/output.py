"""What ``receive``, ``reply`` and ``request`` do with each envelope besides its digest line:
the links they accept (``--allow-host``, ``--allow-dir``), the headers they show, the
envelope JSON (``--envelope``) and the payloads saved as files (``--out DIR``), named as the
Rust CLI names them."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping

from natsbridge_types.profile import ERROR_DOWNLOAD

from .. import digest
from ..errors import NatsBridgeError
from ..receive import ReceiveOptions, Received
from .common import host_url, out

__all__ = ["add_output_flags", "file_name", "receive_options", "save", "show"]


def add_output_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-host", action="append", default=[], metavar="URL", type=host_url,
                   help="also accept links to this host, given as a URL or origin (http://files:8080), or * for "
                        "every host. Repeatable")
    p.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                   help="also accept file:// links under this directory. Repeatable")
    p.add_argument("--show-header", action="append", default=[], metavar="NAME",
                   help='append "headers": {NAME: value} to each digest line for these NATS headers')
    p.add_argument("--out", metavar="DIR",
                   help="write each payload into this directory, named after its dataname with the type's "
                        "extension (.arrows, .json, .txt; the byte types keep the name's own, else .bin)")
    p.add_argument("--envelope", action="store_true",
                   help="print the envelope JSON on a line of its own after each digest line")


def receive_options(a: argparse.Namespace) -> ReceiveOptions:
    """The receive options the flags ask for."""
    options = ReceiveOptions()
    for host in a.allow_host:
        options = options.allow_host(host)
    for directory in a.allow_dir:
        options = options.allow_dir(directory)
    return options


def show(a: argparse.Namespace, received: Received, headers: Mapping[str, str] | None) -> None:
    """The digest line of ``received`` (with the headers asked for), then what else was
    asked: the envelope line, the payloads saved (a file that cannot be written ends the
    command, as in the Rust CLI)."""
    try:
        line = digest.with_headers(digest.of_received(received), headers, a.show_header)
    except Exception as e:  # a bug in this package: reported on the message's line, not fatal
        line = digest.of_unexpected(e)
    out(line)
    if a.envelope:
        out(json.dumps(received.envelope, separators=(",", ":")))
    if a.out is not None:
        save(a.out, received)


def save(directory: str, received: Received) -> None:
    """Writes every payload of ``received`` into ``directory`` (created if missing): the bytes
    as carried, so their sha256 is the digest line's; a second payload of the same file name
    is ``name-2.ext``, and so on. ``DOWNLOAD_FAILED`` when a file cannot be written."""

    def failed(what: str) -> NatsBridgeError:
        return NatsBridgeError(ERROR_DOWNLOAD, what, correlation_id=received.correlation_id)

    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise failed(f"creating {directory}") from e
    taken: set[str] = set()
    for p in received.payloads:
        name = file_name(p.dataname, p.payload_type)
        stem, _, ext = name.rpartition(".") if "." in name else (name, "", "")
        candidate, n = name, 2
        while candidate in taken:
            candidate = f"{stem}-{n}.{ext}"
            n += 1
        taken.add(candidate)
        path = os.path.join(directory, candidate)
        try:
            with open(path, "wb") as f:
                f.write(p.raw)
        except OSError as e:
            raise failed(f"writing {path}") from e


_TYPE_EXTENSIONS = {"arrowtable": "arrows", "dictionary": "json", "jsontable": "json", "text": "txt"}


def file_name(dataname: str, payload_type: str) -> str:
    """A file name for a payload: the dataname made safe (ASCII letters, digits, ``.``, ``_``
    and ``-`` kept, anything else ``_``; no leading dot; ``payload`` when nothing is left),
    with the type's extension; the byte types keep the name's own extension, else ``.bin``."""
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in dataname).lstrip(".")
    safe = safe or "payload"
    own_ext = safe.rpartition(".")[2] if "." in safe else ""
    ext = _TYPE_EXTENSIONS.get(payload_type)
    if ext is None:
        return safe if own_ext else f"{safe}.bin"
    stem = safe.rpartition(".")[0] if own_ext == ext else safe
    return f"{stem}.{ext}"
