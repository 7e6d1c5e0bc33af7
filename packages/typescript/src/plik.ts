/**
 * A client for Plik's upload protocol (and the embedded `natsbridge fileserver`, which speaks
 * it): `POST /upload` (JSON) → upload id and token; multipart `POST /file/{id}` with
 * `X-UploadToken` → file id; download at `/file/{id}/{fileId}/{name}`. Only `fetch`,
 * `FormData` and `Blob`: runs in a browser too.
 */
import { ERROR_UPLOAD } from "@natsbridge/types";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { parseStrictJson } from "./json.js";
import { log } from "./log.js";
import { checkOptions, type OptionSpec } from "./options.js";
import { newUuid, redact } from "./wire.js";

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

async function call(fetchImpl: typeof fetch, url: string, init: RequestInit, what: string): Promise<Record<string, unknown>> {
  let resp: Response;
  try {
    resp = await fetchImpl(url, { ...init, redirect: "manual" });
  } catch (e) {
    throw new NatsBridgeError(ERROR_UPLOAD, what, { cause: e });
  }
  let text: string;
  try {
    text = await resp.text();
  } catch (e) {
    throw new NatsBridgeError(ERROR_UPLOAD, `${what}: reading the answer`, { cause: e });
  }
  if (!resp.ok) throw new NatsBridgeError(ERROR_UPLOAD, `${what}: HTTP ${resp.status}: ${text.slice(0, 200)}`);
  const parsed = parseStrictJson(text);
  const v = parsed.ok ? parsed.value : undefined;
  if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  throw new NatsBridgeError(ERROR_UPLOAD, `${what}: the answer is not a strict JSON object${parsed.ok ? "" : ` (${parsed.reason})`}`);
}

/** Uploads one file to a Plik-compatible server. */
export async function plikUpload(fileserverUrl: string, name: string, bytes: Uint8Array, options: PlikUploadOptions = {}): Promise<PlikUpload> {
  checkOptions(options, PLIK_UPLOAD_OPTIONS, "plikUpload");
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
      "POST /upload",
    );
    const uploadId = created["id"];
    const uploadToken = created["uploadToken"];
    if (typeof uploadId !== "string" || uploadId === "") throw new NatsBridgeError(ERROR_UPLOAD, "POST /upload: no `id` in the answer");
    if (typeof uploadToken !== "string") throw new NatsBridgeError(ERROR_UPLOAD, "POST /upload: no `uploadToken` in the answer");
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
      "POST /file",
    );
    const fileId = file["id"];
    if (typeof fileId !== "string" || fileId === "") throw new NatsBridgeError(ERROR_UPLOAD, "POST /file: no `id` in the answer");
    const url = `${base}/file/${encodeURIComponent(uploadId)}/${encodeURIComponent(fileId)}/${encodeURIComponent(name)}`;
    log("info", "uploaded", cid, { stage: "upload", url: redact(url), bytes: bytes.byteLength });
    return { uploadId, fileId, url };
  } catch (e) {
    throw asBridgeError(e, ERROR_UPLOAD, `uploading to ${redact(base)}`, { correlationId: cid === "" ? undefined : cid });
  }
}

/** The reference's one-shot upload: the file is deleted after its first download. */
export async function plikOneshotUpload(fileserverUrl: string, dataname: string, data: Uint8Array): Promise<PlikUpload> {
  return plikUpload(fileserverUrl, dataname, data, { oneShot: true, correlationId: newUuid() });
}

/** An {@link Uploader} for a Plik-compatible server. */
export function plikUploader(fileserverUrl: string, options: PlikUploaderOptions = {}): Uploader {
  checkOptions(options, PLIK_UPLOADER_OPTIONS, "plikUploader");
  return async (name, bytes, ctx) =>
    (await plikUpload(fileserverUrl, name, bytes, {
      ...options,
      oneShot: ctx.oneShot,
      correlationId: ctx.correlationId,
      ...(ctx.ttlSeconds === undefined ? {} : { ttlSeconds: ctx.ttlSeconds }),
    })).url;
}
