"""A client for Plik's upload protocol (the embedded file server speaks it too):
``POST /upload`` → upload id and token; multipart ``POST /file/{id}`` with
``X-UploadToken`` → file id; download at ``/file/{id}/{fileId}/{name}``."""

from __future__ import annotations

import json
import math
import urllib.parse
from typing import Any, NamedTuple

import aiohttp

from natsbridge_types.profile import ENV_FILESERVER_TOKEN, ERROR_UPLOAD

from . import _log, config
from .config import Setting
from .errors import NatsBridgeError
from .fetch import describe_failure, new_session, redact, status_text
from .options import PositiveSeconds, checked
from .wire import new_uuid

__all__ = ["PlikUpload", "plik_oneshot_upload", "plik_upload"]


class PlikUpload(NamedTuple):
    """Where an upload landed."""

    upload_id: str
    file_id: str
    url: str
    """``{server}/file/{upload_id}/{file_id}/{name}``"""


class _Failure(Exception):
    """Why one HTTP call of an upload failed, and whether the server was never reached."""

    def __init__(self, why: str, unreachable: bool = False, status: int | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.unreachable = unreachable
        self.status = status


async def _call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        async with session.request(method, url, allow_redirects=False, **kwargs) as resp:
            text = await resp.text(errors="replace")
            if not 200 <= resp.status < 300:
                body = " ".join(text.split())[:200]
                raise _Failure(f"the file server answered {status_text(resp.status)}" + (f": {body}" if body else ""),
                               status=resp.status)
    except _Failure:
        raise
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
        raise _Failure(describe_failure(e), unreachable=True) from e
    try:
        value = json.loads(text)
    except ValueError as e:
        raise _Failure(f"the answer to {method} {urllib.parse.urlsplit(url).path} is not JSON") from e
    if not isinstance(value, dict):
        raise _Failure(f"the answer to {method} {urllib.parse.urlsplit(url).path} is not a JSON object")
    return value


def _hint(failure: _Failure, setting: Setting) -> str:
    """What to try after ``failure`` of an upload to the file server of ``setting``."""
    if failure.unreachable:
        if setting.source == "default":
            return "Start a file server (`natsbridge fileserver`) or pass fileserver_url"
        if setting.source == "environment":
            return f"Start the file server at {redact(setting.value)} or change {setting.variable}"
        return f"Start the file server at {redact(setting.value)} or pass another {setting.name}"
    if failure.status is not None and failure.status >= 500:
        return "The file server failed; see its log"
    if failure.status in (401, 403):
        return f"The file server wants a token: pass fileserver_token (or set {ENV_FILESERVER_TOKEN})"
    if failure.status == 413:
        return "The file server refuses files this large; raise its limit"
    return f"Check that {redact(setting.value)} is a Plik-compatible file server (POST /upload, POST /file/{{id}})"


async def upload(
    setting: Setting,
    name: str,
    data: bytes | bytearray | memoryview,
    *,
    what: str,
    one_shot: bool = False,
    ttl: float | None = None,
    token: str | None = None,
    correlation_id: str | None = None,
    session: aiohttp.ClientSession | None = None,
) -> PlikUpload:
    """Uploads one file to the Plik-compatible server ``setting`` names, with ``token`` (default
    ``FILESERVER_TOKEN``) when it asks for one; ``UPLOAD_FAILED`` saying ``what`` was uploaded,
    where, why it failed, where the URL came from and what to try (never the token)."""
    base = setting.value.rstrip("/")
    cid = correlation_id or new_uuid()
    own = session is None
    if session is None:
        session = new_session()
    if token is None or not token.strip():  # a blank token is none given
        token = config.fileserver_token()
    headers = {"X-PlikToken": token} if token else {}
    target = f"{redact(base)}/upload"
    try:
        # Whole seconds, rounded up: a link may outlive its message, never the reverse.
        # math.inf (a stream that keeps messages for ever) is Plik's -1, "never expires".
        asked = None if ttl is None else ttl if math.isinf(ttl) else max(math.ceil(ttl), 1)
        body: dict[str, Any] = {"oneShot": one_shot}
        if asked is not None:
            body["ttl"] = -1 if math.isinf(asked) else asked
        created = await _call(session, "POST", f"{base}/upload", json=body, headers=headers)
        upload_id, upload_token = created.get("id"), created.get("uploadToken")
        if not isinstance(upload_id, str) or not isinstance(upload_token, str):
            raise _Failure("the answer to POST /upload has no `id` or `uploadToken`")
        # Plik answers the TTL it granted (<= 0: never expires); a shorter one would let links die before their messages.
        granted = created.get("ttl")
        if asked is not None and isinstance(granted, (int, float)) and 0 < granted < asked:
            shown = "for ever" if math.isinf(asked) else f"{asked} s"
            raise NatsBridgeError(ERROR_UPLOAD, f"{what} to {target}: the file server granted a TTL of {granted} s, "
                                  f"{shown} was asked: links would expire before their messages. Raise the file "
                                  "server's maximum TTL, or publish into a stream with a shorter max_age")
        form = aiohttp.FormData()
        form.add_field("file", bytes(data) if isinstance(data, memoryview) else data, filename=name,
                       content_type="application/octet-stream")
        quoted_id = urllib.parse.quote(upload_id, safe="")
        target = f"{redact(base)}/file/{quoted_id}"
        file = await _call(session, "POST", f"{base}/file/{quoted_id}", data=form,
                           headers={**headers, "X-UploadToken": upload_token})
        file_id = file.get("id")
        if not isinstance(file_id, str):
            raise _Failure("the answer to POST /file has no `id`")
        url = f"{base}/file/{quoted_id}/{urllib.parse.quote(file_id, safe='')}/{urllib.parse.quote(name, safe='')}"
        _log.debug("uploaded", cid, "upload", url=redact(url), bytes=len(data))
        return PlikUpload(upload_id, file_id, url)
    except _Failure as f:
        raise NatsBridgeError(
            ERROR_UPLOAD, f"{what} to {target} failed: {f.why} (the file server URL is {setting.origin()}). "
            f"{_hint(f, setting)}", correlation_id=cid,
        ) from f.__cause__
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)
    finally:
        if own:
            await session.close()


@checked("plik_upload")
async def plik_upload(
    fileserver_url: str,
    name: str,
    data: bytes | bytearray | memoryview,
    *,
    one_shot: bool = False,
    ttl: PositiveSeconds | None = None,
    token: str | None = None,
    correlation_id: str | None = None,
    session: aiohttp.ClientSession | None = None,
) -> PlikUpload:
    """Uploads one file to a Plik-compatible server, with ``token`` (default
    ``FILESERVER_TOKEN``) when it asks for one; ``UPLOAD_FAILED`` on any failure."""
    return await upload(config.fileserver_setting(fileserver_url), name, data,
                        what=f"uploading `{name[:100]}` ({len(data)} bytes)", one_shot=one_shot, ttl=ttl, token=token,
                        correlation_id=correlation_id, session=session)


@checked("plik_oneshot_upload")
async def plik_oneshot_upload(fileserver_url: str, dataname: str, data: bytes | bytearray | memoryview) -> PlikUpload:
    """The reference's one-shot upload: the file is deleted after its first complete download."""
    return await plik_upload(fileserver_url, dataname, data, one_shot=True)
