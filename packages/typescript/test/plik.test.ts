/** plikUpload against a fake Plik server: the TTL granted in the `POST /upload` answer must cover the TTL asked. */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, test } from "node:test";
import { NatsBridgeError, plikUpload } from "../dist/node.js";

/** What `POST /upload` answers next: status and JSON body. */
let answer: [number, unknown] = [200, {}];
/** What the server received: the `POST /upload` bodies, the `POST /file/…` paths. */
let seen: unknown[] = [];
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/upload") {
        seen.push(JSON.parse(body));
        res.writeHead(answer[0], { "content-type": "application/json" }).end(JSON.stringify(answer[1]));
      } else if (req.method === "POST" && req.url === "/file/u1") {
        seen.push(req.url);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: "f1" }));
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

async function upload(status: number, body: unknown, ttlSeconds: number | null = 120) {
  answer = [status, body];
  seen = [];
  return plikUpload(base, "a.bin", new Uint8Array([1, 2, 3]), { correlationId: "c-1", ...(ttlSeconds === null ? {} : { ttlSeconds }) });
}

test("a granted TTL shorter than asked fails the upload with UPLOAD_FAILED", async () => {
  await assert.rejects(upload(200, { id: "u1", uploadToken: "t1", ttl: 10 }), (e: unknown) => {
    assert.ok(e instanceof NatsBridgeError);
    assert.equal(e.code, "UPLOAD_FAILED");
    assert.equal(e.correlationId, "c-1");
    assert.match(e.message, /granted a TTL of 10 s, 120 s was asked/);
    return true;
  });
  assert.deepEqual(seen, [{ oneShot: false, ttl: 120 }], "no file was sent");
});

test("a covering, unlimited (<= 0) or missing granted TTL proceeds to POST /file", async () => {
  for (const granted of [{ ttl: 120 }, { ttl: 3600 }, { ttl: 0 }, { ttl: -1 }, {}]) {
    const got = await upload(200, { id: "u1", uploadToken: "t1", ...granted });
    assert.equal(got.url, `${base}/file/u1/f1/a.bin`, JSON.stringify(granted));
    assert.deepEqual(seen, [{ oneShot: false, ttl: 120 }, "/file/u1"]);
  }
});

test("no TTL asked: any granted TTL is fine", async () => {
  const got = await upload(200, { id: "u1", uploadToken: "t1", ttl: 10 }, null);
  assert.equal(got.fileId, "f1");
  assert.deepEqual(seen, [{ oneShot: false }, "/file/u1"]);
});

test("a TTL the server refuses (400) fails with the server's message", async () => {
  await assert.rejects(upload(400, { message: "ttl 120 s is above this server's maxTTL 60 s" }), (e: unknown) => {
    assert.ok(e instanceof NatsBridgeError);
    assert.equal(e.code, "UPLOAD_FAILED");
    assert.equal(e.correlationId, "c-1");
    assert.match(e.message, /HTTP 400 .*maxTTL 60 s/);
    return true;
  });
});

test("for ever (a stream without max_age) is asked as Plik's -1 and refused when a number is granted", async () => {
  for (const granted of [{ ttl: 0 }, { ttl: -1 }, {}]) {
    const got = await upload(200, { id: "u1", uploadToken: "t1", ...granted }, Infinity);
    assert.equal(got.fileId, "f1");
    assert.deepEqual(seen, [{ oneShot: false, ttl: -1 }, "/file/u1"]);
  }
  await assert.rejects(upload(200, { id: "u1", uploadToken: "t1", ttl: 1e9 }, Infinity), /granted a TTL of 1000000000 s, for ever was asked/);
  assert.deepEqual(seen, [{ oneShot: false, ttl: -1 }], "no file was sent");
});
