/**
 * A client for Plik's upload protocol (and the embedded `natsbridge fileserver`, which speaks
 * it): `POST /upload` (JSON) → upload id and token; multipart `POST /file/{id}` with
 * `X-UploadToken` → file id; download at `/file/{id}/{fileId}/{name}`. Only `fetch`,
 * `FormData` and `Blob`: runs in a browser too. A file server URL with user info
 * (`http://user:password@files:8080`) is called without it, as HTTP Basic authentication.
 */
import { ENV_FILESERVER_TOKEN, ERROR_BAD_OPTION, ERROR_UPLOAD } from "@natsbridge/types";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { networkReason, type FailureKind } from "./net.js";
import { parseStrictJson } from "./json.js";
import { emit } from "./log.js";
import { checkArgument, checkOptions, checkText, describe, type OptionSpec } from "./options.js";
import { base64Encode, newUuid, redact } from "./wire.js";

export interface PlikUpload {
  uploadId: string;
  fileId: string;
  /** `{server}/file/{uploadId}/{fileId}/{name}` */
  url: string;
}

export interface PlikUploadOptions {
  /** Delete the file after its first download (Plik OneShot). Default false. */
  oneShot?: boolean;
  /** Lifetime of the upload in seconds (the server's default when absent). */
  ttlSeconds?: number;
  /** Plik account token (`X-PlikToken`), or the embedded server's `--token`. */
  token?: string;
  correlationId?: string;
  fetch?: typeof fetch;
}

/** Every key of {@link PlikUploadOptions} with its kind: unknown keys and wrong types are refused. */
export const PLIK_UPLOAD_OPTIONS = {
  oneShot: "boolean",
  ttlSeconds: "number",
  token: "string",
  correlationId: "string",
  fetch: "function",
} as const satisfies OptionSpec<PlikUploadOptions>;

/** The options of {@link plikUploader}. */
export type PlikUploaderOptions = Pick<PlikUploadOptions, "token" | "fetch">;

export const PLIK_UPLOADER_OPTIONS = { token: "string", fetch: "function" } as const satisfies OptionSpec<PlikUploaderOptions>;

/** What a blob store does for `smartsend`: store the bytes, return the download URL. */
export type Uploader = (
  name: string,
  bytes: Uint8Array,
  context: { correlationId: string; ttlSeconds?: number; oneShot: boolean },
) => Promise<string>;

/** Why an upload failed, kept apart so that `smartsend` can say where its URL came from. */
export type UploadFailureKind = FailureKind | "http" | "answer";

/**
 * An upload that failed: `uploading `name` (N bytes) to URL failed: why. What to try.`, with
 * the parts kept (`target`, `why`, `kind`) for a caller that knows more (the URL's source).
 */
export class UploadFailure extends NatsBridgeError {
  constructor(
    readonly target: string,
    readonly why: string,
    readonly kind: UploadFailureKind,
    readonly status: number | undefined,
    what: string,
    cause?: unknown,
  ) {
    super(ERROR_UPLOAD, `${what} to ${target} failed: ${why}. ${uploadAdvice(kind, status, "check the file server URL")}`, { cause });
  }
}

/** What to try after an upload failure of `kind`; `pass` says how to give another URL. */
export function uploadAdvice(kind: UploadFailureKind, status: number | undefined, pass: string): string {
  switch (kind) {
    case "unreachable":
      return `Start a file server (\`natsbridge fileserver\`) or ${pass}`;
    case "opaque":
      return `Check that the file server runs and allows this page's origin (\`natsbridge fileserver --allow-origin ORIGIN\`), or ${pass}`;
    case "http":
      if (status === 401 || status === 403) {
        return `The file server refused the upload: give its token (\`fileserverToken\`, ${ENV_FILESERVER_TOKEN}, \`natsbridge-js --fileserver-token\`, plikUploader(url, { token }))`;
      }
      if (status === 413) return "The file is larger than the file server accepts: raise its limit, or send less";
      if (status !== undefined && status >= 500) return "The file server failed: see its log";
      return `Check that the URL is a Plik-compatible file server, or ${pass}`;
    case "answer":
      return `Check that the URL is a Plik-compatible file server, or ${pass}`;
    default:
      return `Check the file server, or ${pass}`;
  }
}

/**
 * `url` without its user info, and that user info as an HTTP Basic `Authorization` header:
 * `fetch` refuses a URL with credentials, which a user writes to mean exactly that.
 */
function withBasicAuth(url: string, init: RequestInit): [string, RequestInit] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [url, init];
  }
  if (u.username === "" && u.password === "") return [url, init];
  const credentials = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = "";
  u.password = "";
  const auth = base64Encode(new TextEncoder().encode(credentials));
  return [u.toString(), { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Basic ${auth}` } }];
}

async function call(fetchImpl: typeof fetch, url: string, init: RequestInit, what: string): Promise<Record<string, unknown>> {
  const target = redact(url);
  let resp: Response;
  try {
    const [plain, withAuth] = withBasicAuth(url, init);
    resp = await fetchImpl(plain, { ...withAuth, redirect: "manual" });
  } catch (e) {
    const reason = networkReason(e);
    throw new UploadFailure(target, reason.why, reason.kind, undefined, what, e);
  }
  let text: string;
  try {
    text = await resp.text();
  } catch (e) {
    throw new UploadFailure(target, `reading the answer failed: ${networkReason(e).why}`, "other", resp.status, what, e);
  }
  if (!resp.ok) {
    const reason = `${resp.status}${resp.statusText === "" ? "" : ` ${resp.statusText}`}`;
    const body = text.trim().slice(0, 200);
    throw new UploadFailure(target, `HTTP ${reason}${body === "" ? "" : ` (${JSON.stringify(body)})`}`, "http", resp.status, what);
  }
  const parsed = parseStrictJson(text);
  const v = parsed.ok ? parsed.value : undefined;
  if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  throw new UploadFailure(target, `the answer is not a strict JSON object${parsed.ok ? "" : ` (${parsed.reason})`}`, "answer", resp.status, what);
}

/** Uploads one file to a Plik-compatible server. */
export async function plikUpload(fileserverUrl: string, name: string, bytes: Uint8Array, options: PlikUploadOptions = {}): Promise<PlikUpload> {
  checkText(fileserverUrl, "fileserverUrl", "plikUpload");
  checkArgument(name, "string", "name", "plikUpload");
  checkBytes(bytes, "plikUpload");
  checkOptions(options, PLIK_UPLOAD_OPTIONS, "plikUpload");
  const what = `uploading \`${name}\` (${bytes.byteLength} bytes)`;
  const base = fileserverUrl.replace(/\/+$/, "");
  const cid = options.correlationId ?? "";
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const token: Record<string, string> = options.token === undefined ? {} : { "X-PlikToken": options.token };
  try {
    // Whole seconds, rounded up; Infinity (a stream that keeps messages for ever) is Plik's -1, "never expires".
    const ttl = options.ttlSeconds === undefined ? undefined : Math.max(1, Math.ceil(options.ttlSeconds));
    const body: Record<string, unknown> = { oneShot: options.oneShot ?? false };
    if (ttl !== undefined) body["ttl"] = ttl === Infinity ? -1 : ttl;
    const created = await call(
      fetchImpl,
      `${base}/upload`,
      { method: "POST", headers: { "content-type": "application/json", ...token }, body: JSON.stringify(body) },
      what,
    );
    const uploadId = created["id"];
    const uploadToken = created["uploadToken"];
    if (typeof uploadId !== "string" || uploadId === "") throw new UploadFailure(`${redact(base)}/upload`, "the answer has no `id`", "answer", undefined, what);
    if (typeof uploadToken !== "string") throw new UploadFailure(`${redact(base)}/upload`, "the answer has no `uploadToken`", "answer", undefined, what);
    // Plik answers the TTL it granted (<= 0: never expires); a shorter one would let links die before their messages.
    const granted = created["ttl"];
    if (ttl !== undefined && typeof granted === "number" && granted > 0 && granted < ttl) {
      const asked = ttl === Infinity ? "for ever" : `${ttl} s`;
      throw new NatsBridgeError(ERROR_UPLOAD, `POST /upload: the file server granted a TTL of ${granted} s, ${asked} was asked: links would expire before their messages`);
    }
    const form = new FormData();
    form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }), name);
    const file = await call(
      fetchImpl,
      `${base}/file/${encodeURIComponent(uploadId)}`,
      { method: "POST", headers: { "X-UploadToken": uploadToken, ...token }, body: form },
      what,
    );
    const fileId = file["id"];
    if (typeof fileId !== "string" || fileId === "") throw new UploadFailure(`${redact(base)}/file`, "the answer has no `id`", "answer", undefined, what);
    const url = `${base}/file/${encodeURIComponent(uploadId)}/${encodeURIComponent(fileId)}/${encodeURIComponent(name)}`;
    emit("info", "uploaded", cid, { stage: "upload", url: redact(url), bytes: bytes.byteLength });
    return { uploadId, fileId, url };
  } catch (e) {
    throw asBridgeError(e, ERROR_UPLOAD, `uploading to ${redact(base)}`, { correlationId: cid === "" ? undefined : cid });
  }
}

/** The reference's one-shot upload: the file is deleted after its first download. */
export async function plikOneshotUpload(fileserverUrl: string, dataname: string, data: Uint8Array): Promise<PlikUpload> {
  checkText(fileserverUrl, "fileserverUrl", "plikOneshotUpload");
  checkArgument(dataname, "string", "dataname", "plikOneshotUpload");
  checkBytes(data, "plikOneshotUpload");
  return plikUpload(fileserverUrl, dataname, data, { oneShot: true, correlationId: newUuid() });
}

/** An {@link Uploader} for a Plik-compatible server. */
export function plikUploader(fileserverUrl: string, options: PlikUploaderOptions = {}): Uploader {
  checkText(fileserverUrl, "fileserverUrl", "plikUploader");
  checkOptions(options, PLIK_UPLOADER_OPTIONS, "plikUploader");
  return async (name, bytes, ctx) =>
    (await plikUpload(fileserverUrl, name, bytes, {
      ...options,
      oneShot: ctx.oneShot,
      correlationId: ctx.correlationId,
      ...(ctx.ttlSeconds === undefined ? {} : { ttlSeconds: ctx.ttlSeconds }),
    })).url;
}

function checkBytes(bytes: unknown, where: string): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: the bytes must be a Uint8Array, got ${describe(bytes)}`);
  }
}
