/**
 * `fetchWithBackoff`: downloads a link payload with the reference schedule (base 100 ms,
 * doubling, cap 5 000 ms, 5 attempts) and full jitter. Only transient failures are retried
 * (network errors, cut-off bodies, 404, 408, 429 and 5xx other than 501); `Retry-After`
 * (seconds) is honoured; one overall deadline bounds everything; redirects are refused
 * (`redirect: "manual"`); the body streams into ONE buffer presized from the declared size
 * (at most 1 GiB ahead of the bytes), a body longer than allowed is cut off, never buffered;
 * the SHA-256 of the body is computed with WebCrypto once it is complete, or, given a streaming
 * hash (`sha256Stream`), chunk by chunk as the body arrives (optionally read with a BYOB reader:
 * `byob`). Uses only `fetch`, so it runs in a browser as well as in Node.
 */
import {
  ERROR_BAD_OPTION,
  ERROR_DEADLINE,
  ERROR_DOWNLOAD,
  ERROR_HOST_NOT_ALLOWED,
  ERROR_INTEGRITY,
  ERROR_PAYLOAD_TOO_LARGE,
  FETCH_BASE_DELAY_MS,
  FETCH_DEADLINE_MS,
  FETCH_MAX_ATTEMPTS,
  FETCH_MAX_DELAY_MS,
  FETCH_MAX_PRESIZE,
  FETCH_RETRY_AFTER_CAP_SECONDS,
  MAX_PAYLOAD_SIZE,
  isRetryableStatus,
} from "@natsbridge/types";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { log } from "./log.js";
import { checkOptions, checkText, describe, type OptionSpec } from "./options.js";
import { redact, sha256Hex } from "./wire.js";

export interface FetchOptions {
  /** Attempts in all (the reference's `max_retries`), at least 1. Default FETCH_MAX_ATTEMPTS (5). */
  maxAttempts?: number;
  /** Bound of the delay before the second attempt, doubling per attempt. Default FETCH_BASE_DELAY_MS (100 ms). */
  baseDelayMs?: number;
  /** Cap on any one backoff delay. Default FETCH_MAX_DELAY_MS (5 000 ms). */
  maxDelayMs?: number;
  /** Deadline for the whole download, all attempts and delays included. Default FETCH_DEADLINE_MS (120 s). */
  deadlineMs?: number;
  /** Largest body accepted, whatever the payload declares. Default MAX_PAYLOAD_SIZE (4 GiB). */
  maxBytes?: number;
  /** The payload's declared size: presizes the buffer; a body of another length is INTEGRITY_MISMATCH. */
  expectedSize?: number;
  /** Correlation id for logs and errors. */
  correlationId?: string;
  /** Also compute the body's SHA-256 (hex). Default true. */
  hash?: boolean;
  /** The fetch implementation (default: the global `fetch`). */
  fetch?: typeof fetch;
  /**
   * A streaming SHA-256, made fresh for every attempt (e.g. hash-wasm's: `() => hasher.init()`)
   * and fed each chunk of the body as it arrives; its `digest()` (hex) is the body's hash, so
   * nothing hashes the whole buffer afterwards (WebCrypto's `digest` copies its input first).
   * `update` must be done with the chunk when it returns (the buffer is read into again); it
   * may return a promise, awaited before the next read (a hash in a worker holding back the
   * download), and `digest` may return one. With `byob`, the chunks are slices of the buffer
   * behind the reads, fed while a read waits for the network (see `byob`), a promise awaited
   * before the next slice. Default: none (the body is hashed once complete).
   */
  sha256Stream?: () => Sha256Stream;
  /**
   * Read the body with a BYOB reader, straight into the presized buffer (no chunk allocated per
   * read), where the body is a byte stream; else the default reader. With a `sha256Stream`, each
   * read lands in a 1 MiB piece of its own and is copied into the buffer, and the hash runs over
   * the buffer behind the reads, while a read waits for the network: the body is taken as fast
   * as it arrives, however slow the hash. (Read and hashed in turn, a hash slower than the
   * network left Chromium holding the body back: up to 55 MiB of a response not read yet, in
   * chunks its garbage collector frees later, unless the response says `Cache-Control:
   * no-store`.) Default false.
   */
  byob?: boolean;
}

/** What {@link FetchOptions.sha256Stream} makes: `update` per chunk, then `digest()` once, as hex. */
export interface Sha256Stream {
  update(chunk: Uint8Array): unknown;
  digest(): string | PromiseLike<string>;
}

/** Every key of {@link FetchOptions} with its kind: unknown keys and wrong types are refused. */
export const FETCH_OPTIONS = {
  maxAttempts: "positive",
  baseDelayMs: "duration",
  maxDelayMs: "duration",
  deadlineMs: "duration",
  maxBytes: "count",
  expectedSize: "count",
  correlationId: "string",
  hash: "boolean",
  fetch: "function",
  sha256Stream: "function",
  byob: "boolean",
} as const satisfies OptionSpec<FetchOptions>;

/** The download schedule and limit of the runtime profile. */
export const DEFAULT_FETCH = {
  maxAttempts: FETCH_MAX_ATTEMPTS,
  baseDelayMs: FETCH_BASE_DELAY_MS,
  maxDelayMs: FETCH_MAX_DELAY_MS,
  deadlineMs: FETCH_DEADLINE_MS,
  maxBytes: MAX_PAYLOAD_SIZE,
} as const;

export interface Fetched {
  /** The body. Its `.buffer` is the one buffer the download streamed into. */
  bytes: Uint8Array;
  /** Lowercase hex SHA-256 of the body ("" when `hash: false`). */
  sha256: string;
  /** Attempts made. */
  attempts: number;
}

type Attempt =
  | { kind: "done"; bytes: Uint8Array; sha256?: string }
  | { kind: "retry"; reason: string; cause?: unknown; retryAfterMs?: number }
  | { kind: "fail"; error: NatsBridgeError };

/** The profile's FETCH_RETRYABLE_STATUSES: 404 is retried (a link may be published before its blob is visible); 410 is not. */
export const retryableStatus: (status: number) => boolean = isRetryableStatus;

/** `Retry-After` in delay-seconds form, in ms, capped at FETCH_RETRY_AFTER_CAP_SECONDS (an HTTP date is ignored). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const t = value.trim();
  if (!/^\d+$/.test(t)) return undefined;
  return Math.min(Number(t), FETCH_RETRY_AFTER_CAP_SECONDS) * MS_PER_SECOND;
}

const MS_PER_SECOND = 1000;

/** The bound of the full-jitter delay after failed attempt `attempt` (0-based). */
export function backoffCapMs(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.min(baseDelayMs * 2 ** Math.min(attempt, 30), maxDelayMs);
}

/** Downloads `url` with retries; returns the body. */
export async function fetchWithBackoff(url: string, options: FetchOptions = {}): Promise<Uint8Array> {
  checkText(url, "url", "fetchWithBackoff");
  checkOptions(options, FETCH_OPTIONS, "fetchWithBackoff");
  return (await fetchHashed(url, { ...options, hash: false })).bytes;
}

/** {@link fetchWithBackoff}, also returning the SHA-256 of the body and the attempts made. */
export async function fetchHashed(url: string, options: FetchOptions = {}): Promise<Fetched> {
  checkText(url, "url", "fetchHashed");
  checkOptions(options, FETCH_OPTIONS, "fetchHashed");
  const cid = options.correlationId ?? "";
  const shown = redact(url);
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_FETCH.maxAttempts);
  const base = options.baseDelayMs ?? DEFAULT_FETCH.baseDelayMs;
  const cap = options.maxDelayMs ?? DEFAULT_FETCH.maxDelayMs;
  const deadlineMs = options.deadlineMs ?? DEFAULT_FETCH.deadlineMs;
  const maxBytes = options.maxBytes ?? DEFAULT_FETCH.maxBytes;
  const expected = options.expectedSize;
  const ctx = { correlationId: cid === "" ? undefined : cid };
  if (expected !== undefined && expected > maxBytes) {
    throw new NatsBridgeError(ERROR_PAYLOAD_TOO_LARGE, `declared size ${expected} exceeds the download limit ${maxBytes}`, ctx);
  }
  const started = Date.now();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, deadlineMs);
  const timeoutError = () =>
    new NatsBridgeError(ERROR_DEADLINE, `download of ${shown} did not finish within ${deadlineMs} ms`, ctx);
  try {
    let last: { reason: string; cause?: unknown } = { reason: "" };
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      log("debug", "download attempt", cid, { stage: "download", url: shown, attempt });
      const result = await attemptOnce(url, expected, maxBytes, controller.signal, options.fetch ?? globalThis.fetch, {
        hasher: options.hash === false ? undefined : options.sha256Stream,
        byob: options.byob === true,
      });
      if (timedOut) throw timeoutError();
      if (result.kind === "done") {
        const sha256 = options.hash === false ? "" : (result.sha256 ?? (await sha256Hex(result.bytes)));
        log("info", "downloaded", cid, { stage: "download", url: shown, bytes: result.bytes.byteLength, attempts: attempt + 1 });
        return { bytes: result.bytes, sha256, attempts: attempt + 1 };
      }
      if (result.kind === "fail") throw result.error.withCorrelationId(cid);
      last = { reason: result.reason, cause: result.cause };
      if (attempt + 1 === maxAttempts) break;
      const jittered = Math.random() * backoffCapMs(attempt, base, cap);
      const delay = result.retryAfterMs === undefined ? jittered : Math.max(result.retryAfterMs, jittered);
      if (Date.now() - started + delay >= deadlineMs) {
        throw new NatsBridgeError(
          ERROR_DEADLINE,
          `${result.reason}; the next attempt (${Math.round(delay)} ms away) would pass the ${deadlineMs} ms deadline`,
          { ...ctx, cause: result.cause },
        );
      }
      log("warn", "download failed, retrying", cid, { stage: "download", url: shown, attempt, delay_ms: Math.round(delay), reason: result.reason });
      await new Promise((r) => setTimeout(r, delay));
    }
    throw new NatsBridgeError(ERROR_DOWNLOAD, `failed to fetch ${shown} after ${maxAttempts} attempts: ${last.reason}`, {
      ...ctx,
      cause: last.cause,
    });
  } catch (e) {
    if (timedOut && !(e instanceof NatsBridgeError && e.code === ERROR_DEADLINE)) throw timeoutError();
    throw asBridgeError(e, ERROR_DOWNLOAD, `downloading ${shown}`, ctx);
  } finally {
    clearTimeout(timer);
  }
}

/** The smallest buffer a body of unknown length grows to (64 KiB). */
const MIN_GROWTH = 0x10000;

async function attemptOnce(
  url: string,
  expected: number | undefined,
  maxBytes: number,
  signal: AbortSignal,
  fetchImpl: typeof fetch,
  streaming: { hasher: (() => Sha256Stream) | undefined; byob: boolean } = { hasher: undefined, byob: false },
): Promise<Attempt> {
  let resp: Response;
  try {
    resp = await fetchImpl(url, { redirect: "manual", signal, cache: "no-store" });
  } catch (e) {
    return { kind: "retry", reason: "request failed", cause: e };
  }
  const status = resp.status;
  if (resp.type === "opaqueredirect" || (status >= 300 && status < 400)) {
    await resp.body?.cancel().catch(() => {});
    return { kind: "fail", error: new NatsBridgeError(ERROR_HOST_NOT_ALLOWED, `download answered ${status}: redirects are not followed`) };
  }
  if (status < 200 || status > 299) {
    await resp.body?.cancel().catch(() => {});
    const reason = `HTTP ${status}`;
    return isRetryableStatus(status)
      ? { kind: "retry", reason, retryAfterMs: parseRetryAfter(resp.headers.get("retry-after")) }
      : { kind: "fail", error: new NatsBridgeError(ERROR_DOWNLOAD, reason) };
  }
  const limit = Math.min(expected ?? maxBytes, maxBytes);
  const tooLong = expected !== undefined ? ERROR_INTEGRITY : ERROR_PAYLOAD_TOO_LARGE;
  const lengthHeader = resp.headers.get("content-length");
  const contentLength = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  if (contentLength !== undefined && contentLength > limit) {
    await resp.body?.cancel().catch(() => {});
    return { kind: "fail", error: new NatsBridgeError(tooLong, `server announces ${contentLength} bytes, more than the ${limit} expected`) };
  }
  if (contentLength !== undefined && expected !== undefined && contentLength !== expected) {
    await resp.body?.cancel().catch(() => {});
    return { kind: "fail", error: new NatsBridgeError(ERROR_INTEGRITY, `server announces ${contentLength} bytes, the payload declares ${expected}`) };
  }
  let buf = new Uint8Array(Math.min(expected ?? contentLength ?? 0, limit, FETCH_MAX_PRESIZE));
  let filled = 0;
  // A caller's streaming hash that throws is its mistake (BAD_OPTION), never a cut-off body to retry.
  const hasher = streaming.hasher?.();
  let hashFailure: unknown;
  const fail = (e: unknown): void => {
    hashFailure ??= e ?? new Error("update() threw");
  };
  /** Feeds `chunk`; a promise when the hash asks the download to wait for it. */
  const feed = (chunk: Uint8Array): Promise<void> | undefined => {
    if (hasher === undefined || hashFailure !== undefined) return undefined;
    try {
      const r = hasher.update(chunk) as { then?: unknown } | undefined;
      if (r !== null && typeof r === "object" && typeof r.then === "function") {
        return Promise.resolve(r).then(() => undefined, fail);
      }
    } catch (e) {
      fail(e);
    }
    return undefined;
  };
  if (resp.body === null) {
    // no body: zero bytes
  } else if (streaming.byob && byteStream(resp.body)) {
    const reader = resp.body.getReader({ mode: "byob" });
    // With a streaming hash, each read lands in a piece of its own, copied into the buffer, and
    // the hash runs over the buffer behind the reads while a read waits (`byob` above).
    const behind = hasher === undefined ? undefined : hashBehind(feed);
    let piece = behind === undefined ? undefined : new Uint8Array(BYOB_READ);
    for (;;) {
      if (filled === buf.byteLength) {
        if (filled >= limit) {
          // Full: one more byte would be too many; the stream must be at its end.
          let end: boolean;
          try {
            end = (await reader.read(new Uint8Array(1))).done;
          } catch (e) {
            return { kind: "retry", reason: `body cut off after ${filled} bytes`, cause: e };
          }
          if (end) break;
          await reader.cancel().catch(() => {});
          return { kind: "fail", error: new NatsBridgeError(tooLong, `body is longer than the ${limit} bytes expected`) };
        }
        const grown = new Uint8Array(Math.min(limit, Math.max(buf.byteLength * 2, filled + MIN_GROWTH)));
        grown.set(buf.subarray(0, filled));
        buf = grown;
      }
      // The read transfers the buffer: it comes back as `value.buffer`, the chunk written in place.
      const room = Math.min(buf.byteLength - filled, BYOB_READ);
      const view = piece === undefined ? new Uint8Array(buf.buffer as ArrayBuffer, filled, room) : new Uint8Array(piece.buffer, 0, room);
      let result: ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
      try {
        result = await (behind === undefined ? reader.read(view) : behind.whileReading(reader.read(view), buf, filled));
      } catch (e) {
        return { kind: "retry", reason: `body cut off after ${filled} bytes`, cause: e };
      }
      const { done, value } = result;
      if (value === undefined) return { kind: "retry", reason: `body cancelled after ${filled} bytes` };
      if (piece === undefined) buf = new Uint8Array(value.buffer);
      else piece = new Uint8Array(value.buffer);
      if (done) break;
      if (piece === undefined) {
        const wait = feed(value);
        if (wait !== undefined) await wait;
      } else buf.set(value, filled);
      filled += value.byteLength;
    }
    await behind?.rest(buf, filled);
  } else {
    const reader = resp.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (filled + value.byteLength > limit) {
          await reader.cancel().catch(() => {});
          return { kind: "fail", error: new NatsBridgeError(tooLong, `body is longer than the ${limit} bytes expected`) };
        }
        if (filled + value.byteLength > buf.byteLength) {
          const grown = new Uint8Array(Math.min(limit, Math.max(buf.byteLength * 2, filled + value.byteLength, MIN_GROWTH)));
          grown.set(buf.subarray(0, filled));
          buf = grown;
        }
        buf.set(value, filled);
        const wait = feed(value);
        if (wait !== undefined) await wait;
        filled += value.byteLength;
      }
    } catch (e) {
      return { kind: "retry", reason: `body cut off after ${filled} bytes`, cause: e };
    }
  }
  if (contentLength !== undefined && filled !== contentLength) {
    return { kind: "retry", reason: `body truncated: ${filled} of ${contentLength} bytes` };
  }
  if (expected !== undefined && filled !== expected) {
    return { kind: "fail", error: new NatsBridgeError(ERROR_INTEGRITY, `body has ${filled} bytes, the payload declares ${expected}`) };
  }
  const bytes = filled === buf.byteLength ? buf : buf.subarray(0, filled);
  if (hasher === undefined) return { kind: "done", bytes };
  if (hashFailure !== undefined) {
    return { kind: "fail", error: new NatsBridgeError(ERROR_BAD_OPTION, `fetch option \`sha256Stream\`: update() threw: ${String(hashFailure)}`, { cause: hashFailure }) };
  }
  let digest: unknown;
  try {
    digest = await hasher.digest();
  } catch (e) {
    return { kind: "fail", error: new NatsBridgeError(ERROR_BAD_OPTION, `fetch option \`sha256Stream\`: digest() failed: ${String(e)}`, { cause: e }) };
  }
  if (typeof digest !== "string" || !/^[0-9a-fA-F]{64}$/.test(digest)) {
    return { kind: "fail", error: new NatsBridgeError(ERROR_BAD_OPTION, `fetch option \`sha256Stream\`: digest() must return a SHA-256 as 64 hex digits, got ${describe(digest)}`) };
  }
  return { kind: "done", bytes, sha256: digest.toLowerCase() };
}

/** Largest view handed to one BYOB read (a chunk of the body at a time, each hashed as it lands). */
const BYOB_READ = 1 << 20;

/** Whether `body` is a byte stream (one a BYOB reader can read). */
function byteStream(body: ReadableStream<Uint8Array>): boolean {
  try {
    body.getReader({ mode: "byob" }).releaseLock();
    return true;
  } catch {
    return false;
  }
}

/** The most the hash takes on between two looks at the download. */
const HASH_SLICE = 1 << 18;

/**
 * A streaming hash fed from the buffer behind the reads. `whileReading` hashes the bytes
 * already read, a slice at a time, until the read given settles, letting the event loop turn
 * between slices (a MessageChannel message: the network's tasks answer the read); a read the
 * browser can answer from what it holds is taken at once, before any hashing. `rest` hashes
 * what is left once the body is in. A promise from `update` is awaited before the next slice.
 */
function hashBehind(feed: (chunk: Uint8Array) => Promise<void> | undefined) {
  let hashed = 0;
  const turn = () =>
    new Promise<undefined>((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve(undefined);
      };
      channel.port2.postMessage(null);
    });
  const slice = async (buf: Uint8Array, end: number): Promise<void> => {
    const wait = feed(buf.subarray(hashed, end));
    hashed = end;
    if (wait !== undefined) await wait;
  };
  return {
    async whileReading<T>(read: Promise<T>, buf: Uint8Array, filled: number): Promise<T> {
      let got = await Promise.race([read, Promise.resolve(undefined)]);
      while (got === undefined) {
        if (hashed === filled) return read;
        await slice(buf, Math.min(filled, hashed + HASH_SLICE));
        got = await Promise.race([read, turn()]);
      }
      return got;
    },
    async rest(buf: Uint8Array, filled: number): Promise<void> {
      while (hashed < filled) await slice(buf, Math.min(filled, hashed + BYOB_READ));
    },
  };
}
