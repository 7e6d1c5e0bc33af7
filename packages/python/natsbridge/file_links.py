"""``file://`` link payloads: a sender on the same machine (or a shared filesystem) leaves the
bytes in a file and sends its URL. A receiver reads such a link only from a directory it
allowed (``ReceiveOptions.allow_dir``), as the Rust runtime does:

- a path with a ``..`` component, or under no allowed directory, is refused before anything
  touches the filesystem (a sender cannot probe which files exist): ``URL_NOT_ALLOWED``;
- the path is then resolved (symbolic links followed) and must still lie under an allowed
  directory, resolved too: ``URL_NOT_ALLOWED`` otherwise;
- the file must hold exactly the declared size (``INTEGRITY_MISMATCH`` otherwise); a file
  that cannot be read is ``DOWNLOAD_FAILED``.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from natsbridge_types.profile import ERROR_DOWNLOAD, ERROR_HOST_NOT_ALLOWED, ERROR_INTEGRITY

from .errors import NatsBridgeError

__all__ = ["is_file_link", "read_file_link"]


def is_file_link(url: str) -> bool:
    """Whether ``url`` is a ``file:`` URL (scheme compared without case)."""
    return url[:5].lower() == "file:"


def _path_of(url: str) -> Path:
    """The local path a ``file:`` URL names (``file:///a/b`` or ``file://localhost/a/b``,
    percent-escapes decoded); ``URL_NOT_ALLOWED`` for another host or a relative path."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise NatsBridgeError(ERROR_HOST_NOT_ALLOWED, "not a local file URL")
    path = Path(urllib.request.url2pathname(parts.path))
    if not path.is_absolute():
        raise NatsBridgeError(ERROR_HOST_NOT_ALLOWED, "not a local file URL")
    return path


def _under(path: Path, directory: Path) -> bool:
    return path == directory or path.is_relative_to(directory)


def _resolved(directory: str) -> Path | None:
    try:
        return Path(directory).resolve(strict=True)
    except (OSError, RuntimeError):
        return None


def _allowed_path(url: str, allowed_dirs: Sequence[str]) -> Path:
    """The resolved path of ``url`` when it lies under an allowed directory."""
    path = _path_of(url)
    outside = NatsBridgeError(ERROR_HOST_NOT_ALLOWED, f"{path} is outside the allowed directories")
    dirs = [Path(d) for d in allowed_dirs]
    resolved_dirs = [r for r in (_resolved(d) for d in allowed_dirs) if r is not None]
    plausible = ".." not in path.parts and any(_under(path, d) for d in [*dirs, *resolved_dirs])
    if not plausible:
        raise outside
    try:
        canonical = path.resolve(strict=True)
    except (OSError, RuntimeError) as e:
        raise NatsBridgeError(ERROR_DOWNLOAD, f"{path}") from e
    if not any(_under(canonical, d) for d in resolved_dirs):
        raise outside
    return canonical


def _read(path: Path, size: int) -> bytes:
    try:
        with open(path, "rb") as f:
            held = os.fstat(f.fileno()).st_size
            if held != size:
                raise NatsBridgeError(ERROR_INTEGRITY, f"file has {held} bytes, the payload declares {size}")
            return f.read(size)
    except OSError as e:
        raise NatsBridgeError(ERROR_DOWNLOAD, "reading a file link") from e


async def read_file_link(url: str, size: int, allowed_dirs: Sequence[str]) -> bytes:
    """The bytes of the ``file:`` link ``url`` (declared ``size`` bytes), read only from under
    ``allowed_dirs``; see the module's rules."""
    path = _allowed_path(url, allowed_dirs)
    data = await asyncio.to_thread(_read, path, size)
    if len(data) != size:  # the file shrank while it was read
        raise NatsBridgeError(ERROR_INTEGRITY, f"file has {len(data)} bytes, the payload declares {size}")
    return data
