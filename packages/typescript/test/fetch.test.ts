/** fetchWithBackoff against a real local HTTP server scripted per path. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { after, before, test } from "node:test";
import { ERROR_BAD_OPTION, ERROR_DEADLINE, ERROR_INTEGRITY, ERROR_PAYLOAD_TOO_LARGE } from "@natsbridge/types";
import { NatsBridgeError, fetchHashed, fetchWithBackoff } from "../dist/node.js";
import { backoffCapMs, parseRetryAfter, retryableStatus } from "../dist/fetch.js";
import { bytes } from "./samples.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    const n = (hits.get(req.url ?? "") ?? 0) + 1;
    hits.set(req.url ?? "", n);
    const h = routes.get(req.url ?? "");
    if (h === undefined) {
      res.writeHead(410).end();
      return;
    }
    h(req, res, n);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const BODY = bytes(100_000);
const SHA = createHash("sha256").update(BODY).digest("hex");

test("503 with Retry-After, then 200: retried after the server's delay, body and sha256 right", async () => {
  routes.set("/retry-after", (_req, res, n) => {
    if (n === 1) res.writeHead(503, { "Retry-After": "1" }).end();
    else res.writeHead(200, { "Content-Length": String(BODY.length) }).end(BODY);
  });
  const started = Date.now();
  const got = await fetchHashed(`${base}/retry-after`, { expectedSize: BODY.length });
  const elapsed = Date.now() - started;
  assert.equal(got.attempts, 2);
  assert.ok(elapsed >= 1000, `waited ${elapsed} ms, Retry-After said 1 s`);
  assert.ok(elapsed < 3000, `waited ${elapsed} ms`);
  assert.equal(got.sha256, SHA);
  assert.deepEqual(Buffer.from(got.bytes), Buffer.from(BODY));
  assert.equal(got.bytes.buffer.byteLength, BODY.length, "presized from the declared size: one buffer, no regrowth");
});

test("the schedule: 5 attempts, full jitter under 100·2^n ms capped at 5 s; which statuses retry", async () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((a) => backoffCapMs(a, 100, 5000)), [100, 200, 400, 800, 1600, 3200, 5000]);
  for (const s of [404, 408, 429, 500, 502, 503, 504]) assert.ok(retryableStatus(s), String(s));
  for (const s of [400, 401, 403, 410, 413, 501]) assert.ok(!retryableStatus(s), String(s));
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter("99999"), 3600_000);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), undefined);
  routes.set("/always-404", (_req, res) => res.writeHead(404).end());
  const started = Date.now();
  await assert.rejects(fetchWithBackoff(`${base}/always-404`, { correlationId: "c-1" }), (e: unknown) => {
    return e instanceof NatsBridgeError && e.code === "DOWNLOAD_FAILED" && /after 5 attempts/.test(e.message) && e.correlationId === "c-1";
  });
  assert.equal(hits.get("/always-404"), 5);
  assert.ok(Date.now() - started < 100 + 200 + 400 + 800 + 500, "full jitter stays under the caps");
});

test("501 and 410 are not retried", async () => {
  routes.set("/501", (_req, res) => res.writeHead(501).end());
  await assert.rejects(fetchWithBackoff(`${base}/501`), (e: unknown) => e instanceof NatsBridgeError && e.code === "DOWNLOAD_FAILED");
  assert.equal(hits.get("/501"), 1);
});

test("redirects are refused, never followed", async () => {
  routes.set("/redirect", (_req, res) => res.writeHead(302, { Location: `${base}/target` }).end());
  routes.set("/target", (_req, res) => res.writeHead(200).end("secret"));
  await assert.rejects(fetchWithBackoff(`${base}/redirect`), (e: unknown) => e instanceof NatsBridgeError && e.code === "URL_NOT_ALLOWED");
  assert.equal(hits.get("/target"), undefined);
});

test("size caps: a longer body than declared, a body over maxBytes", async () => {
  routes.set("/long", (_req, res) => res.writeHead(200).end(BODY));
  await assert.rejects(fetchWithBackoff(`${base}/long`, { expectedSize: 10 }), (e: unknown) => e instanceof NatsBridgeError && e.code === "INTEGRITY_MISMATCH");
  routes.set("/chunked", (_req, res) => {
    res.writeHead(200);
    res.write(BODY);
    res.end(BODY);
  });
  await assert.rejects(fetchWithBackoff(`${base}/chunked`, { maxBytes: 150_000 }), (e: unknown) => e instanceof NatsBridgeError && e.code === "PAYLOAD_TOO_LARGE");
  const ok = await fetchWithBackoff(`${base}/chunked`);
  assert.equal(ok.byteLength, 200_000);
});

test("a body cut off mid-way is retried", async () => {
  routes.set("/cut", (_req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { "Content-Length": String(BODY.length) });
      res.write(BODY.subarray(0, 1000));
      setTimeout(() => res.destroy(), 20);
    } else {
      res.writeHead(200, { "Content-Length": String(BODY.length) }).end(BODY);
    }
  });
  const got = await fetchHashed(`${base}/cut`, { expectedSize: BODY.length });
  assert.equal(got.attempts, 2);
  assert.equal(got.sha256, SHA);
});

test("the overall deadline (ERROR_DEADLINE, TIMEOUT): a Retry-After past it fails at once, a stalled server times out", async () => {
  routes.set("/later", (_req, res) => res.writeHead(503, { "Retry-After": "30" }).end());
  let started = Date.now();
  await assert.rejects(fetchWithBackoff(`${base}/later`, { deadlineMs: 2000 }), (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_DEADLINE && /deadline/.test(e.message));
  assert.ok(Date.now() - started < 1000);
  routes.set("/stall", (_req, res) => {
    res.writeHead(200, { "Content-Length": "1000" });
    res.write("x");
  });
  started = Date.now();
  await assert.rejects(fetchWithBackoff(`${base}/stall`, { deadlineMs: 500 }), (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_DEADLINE);
  const took = Date.now() - started;
  assert.ok(took >= 450 && took < 2000, `${took} ms`);
});

test("a connection refused is retried, then DOWNLOAD_FAILED", async () => {
  await assert.rejects(fetchWithBackoff("http://127.0.0.1:1/x", { maxAttempts: 3, baseDelayMs: 10 }), (e: unknown) => e instanceof NatsBridgeError && e.code === "DOWNLOAD_FAILED" && /after 3 attempts/.test(e.message));
});

/** A streaming SHA-256 over node:crypto, counting what it was fed (what hash-wasm is to the page). */
function countingSha256() {
  const fed = { chunks: [] as number[], made: 0, make: () => ({ update(_chunk: Uint8Array): void {}, digest: (): string => "" }) };
  fed.make = () => {
    fed.made++;
    const h = createHash("sha256");
    return {
      update(chunk: Uint8Array): void {
        fed.chunks.push(chunk.byteLength);
        h.update(chunk);
      },
      digest: () => h.digest("hex"),
    };
  };
  return fed;
}

test("sha256Stream: the body is hashed chunk by chunk as it arrives, with BYOB reads into the one presized buffer or the default reader", async () => {
  routes.set("/stream", (_req, res) => {
    res.writeHead(200, { "Content-Length": String(BODY.length) });
    res.write(BODY.subarray(0, 30_000));
    setTimeout(() => res.end(BODY.subarray(30_000)), 20);
  });
  for (const byob of [true, false]) {
    const s = countingSha256();
    const got = await fetchHashed(`${base}/stream`, { expectedSize: BODY.length, sha256Stream: s.make, byob });
    assert.equal(got.sha256, SHA, `byob ${byob}`);
    assert.deepEqual(Buffer.from(got.bytes), Buffer.from(BODY));
    assert.equal(got.bytes.byteOffset, 0);
    assert.equal(got.bytes.buffer.byteLength, BODY.length, "one buffer of the declared size");
    assert.equal(s.made, 1);
    assert.ok(s.chunks.length >= 2, `fed as it arrived: ${s.chunks.join(", ")}`);
    assert.equal(s.chunks.reduce((a, b) => a + b, 0), BODY.length);
  }
  // A hash elsewhere (a worker): update may hold the download back with a promise, digest may be one.
  let waits = 0;
  const inner = countingSha256();
  const later = () => {
    const h = inner.make();
    return {
      update(chunk: Uint8Array) {
        h.update(chunk);
        return new Promise<void>((r) => setTimeout(() => {
          waits++;
          r();
        }, 1));
      },
      digest: () => Promise.resolve(h.digest()),
    };
  };
  const awaited = await fetchHashed(`${base}/stream`, { expectedSize: BODY.length, sha256Stream: later, byob: true });
  assert.equal(awaited.sha256, SHA);
  assert.equal(waits, inner.chunks.length, "every update's promise was awaited before the next read");
  // Without a declared size the BYOB buffer grows, and the digest still covers every byte.
  const s = countingSha256();
  const grown = await fetchHashed(`${base}/stream`, { sha256Stream: s.make, byob: true });
  assert.equal(grown.sha256, SHA);
  assert.deepEqual(Buffer.from(grown.bytes), Buffer.from(BODY));
});

test("sha256Stream with BYOB reads: a fresh hash per attempt, sizes enforced, a broken hash is BAD_OPTION", async () => {
  routes.set("/stream-cut", (_req, res, n) => {
    res.writeHead(200, { "Content-Length": String(BODY.length) });
    if (n === 1) {
      res.write(BODY.subarray(0, 1000));
      setTimeout(() => res.destroy(), 20);
    } else res.end(BODY);
  });
  const s = countingSha256();
  const got = await fetchHashed(`${base}/stream-cut`, { expectedSize: BODY.length, sha256Stream: s.make, byob: true, baseDelayMs: 10 });
  assert.equal(got.attempts, 2);
  assert.equal(s.made, 2, "a new hash for the second attempt");
  assert.equal(got.sha256, SHA);
  // Longer than declared (no Content-Length to catch it early): INTEGRITY_MISMATCH, not buffered.
  routes.set("/stream-long", (_req, res) => {
    res.writeHead(200);
    res.write(BODY);
    res.end(BODY);
  });
  await assert.rejects(
    fetchHashed(`${base}/stream-long`, { expectedSize: BODY.length, sha256Stream: countingSha256().make, byob: true }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_INTEGRITY && /longer than the 100000 bytes/.test(e.message),
  );
  await assert.rejects(
    fetchHashed(`${base}/stream-long`, { maxBytes: 150_000, byob: true }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_PAYLOAD_TOO_LARGE,
  );
  routes.set("/short", (_req, res) => {
    res.writeHead(200);
    res.write(BODY.subarray(0, 99_999));
    res.end();
  });
  await assert.rejects(
    fetchHashed(`${base}/short`, { expectedSize: BODY.length, sha256Stream: countingSha256().make, byob: true }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_INTEGRITY && /99999 bytes, the payload declares 100000/.test(e.message),
  );
  const rejecting = () => ({ update: () => {}, digest: () => Promise.reject(new Error("worker gone")) });
  await assert.rejects(
    fetchHashed(`${base}/stream`, { expectedSize: BODY.length, sha256Stream: rejecting, byob: true }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && /digest\(\) failed: Error: worker gone/.test(e.message),
  );
  const bad = () => ({ update: () => {}, digest: () => "not hex" });
  await assert.rejects(
    fetchHashed(`${base}/stream`, { expectedSize: BODY.length, sha256Stream: bad }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && /sha256Stream/.test(e.message) && /"not hex"/.test(e.message),
  );
  const throwing = () => ({
    update: () => {
      throw new Error("boom");
    },
    digest: () => SHA,
  });
  await assert.rejects(
    fetchHashed(`${base}/stream`, { expectedSize: BODY.length, sha256Stream: throwing, byob: true }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && /update\(\) threw: Error: boom/.test(e.message),
  );
  await assert.rejects(
    fetchHashed(`${base}/stream`, { sha256Stream: "sha256" as never }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && /sha256Stream/.test(e.message),
  );
});
