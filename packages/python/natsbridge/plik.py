"""A client for Plik's upload protocol (the embedded file server speaks it too):
``POST /upload`` → upload id and token; multipart ``POST /file/{id}`` with
``X-UploadToken`` → file id; download at ``/file/{id}/{fileId}/{name}``."""

from __future__ import annotations

import json
import math
import urllib.parse
from typing import Any, NamedTuple

import aiohttp

from natsbridge_types.profile import ERROR_UPLOAD

from . import _log
from .errors import NatsBridgeError
from .fetch import new_session, redact
from .wire import new_uuid

__all__ = ["PlikUpload", "plik_oneshot_upload", "plik_upload"]


class PlikUpload(NamedTuple):
    """Where an upload landed."""

    upload_id: str
    file_id: str
    url: str
    """``{server}/file/{upload_id}/{file_id}/{name}``"""


async def _call(session: aiohttp.ClientSession, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
    try:
        async with session.request(method, url, allow_redirects=False, **kwargs) as resp:
            text = await resp.text(errors="replace")
            if not 200 <= resp.status < 300:
                raise NatsBridgeError(ERROR_UPLOAD, f"{what}: HTTP {resp.status}: {text[:200]}")
    except NatsBridgeError:
        raise
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
        raise NatsBridgeError(ERROR_UPLOAD, what) from e
    try:
        value = json.loads(text)
    except ValueError as e:
        raise NatsBridgeError(ERROR_UPLOAD, f"{what}: the answer is not JSON") from e
    if not isinstance(value, dict):
        raise NatsBridgeError(ERROR_UPLOAD, f"{what}: the answer is not a JSON object")
    return value


async def plik_upload(
    fileserver_url: str,
    name: str,
    data: bytes | bytearray | memoryview,
    *,
    one_shot: bool = False,
    ttl: float | None = None,
    token: str | None = None,
    correlation_id: str | None = None,
    session: aiohttp.ClientSession | None = None,
) -> PlikUpload:
    """Uploads one file to a Plik-compatible server; ``UPLOAD_FAILED`` on any failure."""
    base = fileserver_url.rstrip("/")
    cid = correlation_id or new_uuid()
    own = session is None
    if session is None:
        session = new_session()
    headers = {"X-PlikToken": token} if token else {}
    try:
        # Whole seconds, rounded up: a link may outlive its message, never the reverse.
        # math.inf (a stream that keeps messages for ever) is Plik's -1, "never expires".
        asked = None if ttl is None else ttl if math.isinf(ttl) else max(math.ceil(ttl), 1)
        body: dict[str, Any] = {"oneShot": one_shot}
        if asked is not None:
            body["ttl"] = -1 if math.isinf(asked) else asked
        created = await _call(session, "POST", f"{base}/upload", "POST /upload", json=body, headers=headers)
        upload_id, upload_token = created.get("id"), created.get("uploadToken")
        if not isinstance(upload_id, str) or not isinstance(upload_token, str):
            raise NatsBridgeError(ERROR_UPLOAD, "POST /upload: no `id` or `uploadToken` in the answer")
        # Plik answers the TTL it granted (<= 0: never expires); a shorter one would let links die before their messages.
        granted = created.get("ttl")
        if asked is not None and isinstance(granted, (int, float)) and 0 < granted < asked:
            shown = "for ever" if math.isinf(asked) else f"{asked} s"
            raise NatsBridgeError(ERROR_UPLOAD, f"POST /upload: the file server granted a TTL of {granted} s, "
                                  f"{shown} was asked: links would expire before their messages")
        form = aiohttp.FormData()
        form.add_field("file", bytes(data) if isinstance(data, memoryview) else data, filename=name,
                       content_type="application/octet-stream")
        quoted_id = urllib.parse.quote(upload_id, safe="")
        file = await _call(session, "POST", f"{base}/file/{quoted_id}", "POST /file", data=form,
                           headers={**headers, "X-UploadToken": upload_token})
        file_id = file.get("id")
        if not isinstance(file_id, str):
            raise NatsBridgeError(ERROR_UPLOAD, "POST /file: no `id` in the answer")
        url = f"{base}/file/{quoted_id}/{urllib.parse.quote(file_id, safe='')}/{urllib.parse.quote(name, safe='')}"
        _log.debug("uploaded", cid, "upload", url=redact(url), bytes=len(data))
        return PlikUpload(upload_id, file_id, url)
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)
    finally:
        if own:
            await session.close()


async def plik_oneshot_upload(fileserver_url: str, dataname: str, data: bytes | bytearray | memoryview) -> PlikUpload:
    """The reference's one-shot upload: the file is deleted after its first complete download."""
    return await plik_upload(fileserver_url, dataname, data, one_shot=True)
