/**
 * Errors that say what to do (D5): one row per mistake or failure a user runs into, each
 * asserting the code and that the message holds what was attempted, where (the URL or
 * subject), why (the refused connection, the HTTP status, the DNS failure, the missing offset…)
 * and what to try, with the source of a URL (the argument, the environment variable, or the
 * default). Never a password from a URL.
 */
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import { after, before, test } from "node:test";
import {
  DEFAULT_FILESERVER_URL,
  ENV_FILESERVER_URL,
  ENV_NATS_URL,
  ERROR_APPLICATION,
  ERROR_BAD_OPTION,
  ERROR_DEADLINE,
  ERROR_UPLOAD,
  ERROR_WRITER_RULE,
} from "@natsbridge/types";
import {
  ApplicationError,
  EnvelopeConsumer,
  NatsBridgeError,
  connect,
  ensureStream,
  newUuid,
  plikUploader,
  serve,
  smartreceive,
  smartrequest,
  smartsend,
  type PayloadTuple,
  type Server,
} from "../dist/node.js";
import { freePort, startNats, type Running } from "./helpers.ts";

let nats: Running;
let nc: Awaited<ReturnType<typeof connect>>;
let http500: HttpServer;
let http500Url: string;
let deadPort: number;
let responder: Server;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  await ensureStream(nc, { name: "TABLE", subjects: ["table.>"], maxAgeMs: 60_000, storage: "memory" });
  deadPort = await freePort();
  http500 = createServer((_req, res) => {
    res.writeHead(500, "Internal Server Error", { "content-type": "text/plain" });
    res.end("disk full");
  });
  await new Promise<void>((r) => http500.listen(0, "127.0.0.1", r));
  const address = http500.address();
  http500Url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  responder = await serve(nc, "table.columns", async () => {
    throw new ApplicationError("UNKNOWN_COLUMN", "no column `x`");
  });
});

after(async () => {
  await responder?.stop();
  await nc?.close();
  await nats?.stop();
  await new Promise((r) => http500?.close(r));
});

const TABLE: PayloadTuple[] = [["table", new Uint8Array(5000), "binary"]];

/** Runs `body` with the environment variables set (`undefined`: unset), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await body();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

interface Row {
  /** The mistake or failure. */
  name: string;
  run: () => Promise<unknown>;
  code: string;
  what: string;
  where: string;
  why: string;
  tryThis: string;
  /** Text that must not appear (a password). */
  never?: string;
}

/** The rows (made when a test runs: the ports are known by then). */
const ROWS = (): Row[] => [
  {
    name: "dead file server, the default URL",
    run: () => withEnv({ [ENV_FILESERVER_URL]: undefined }, () => smartsend("t", TABLE, { publish: false, sizeThreshold: 0 })),
    code: ERROR_UPLOAD,
    what: "uploading payload `table` (5000 bytes)",
    where: `to ${DEFAULT_FILESERVER_URL}/upload`,
    why: `failed: connection refused (the file server URL is the default ${DEFAULT_FILESERVER_URL}: ${ENV_FILESERVER_URL} is unset)`,
    tryThis: "Start a file server (`natsbridge fileserver`) or pass fileserverUrl.",
  },
  {
    name: "dead file server, from the environment, with a password in the URL",
    run: () => withEnv({ [ENV_FILESERVER_URL]: `http://user:s3cret@127.0.0.1:${deadPort}` }, () => smartsend("t", TABLE, { publish: false, sizeThreshold: 0 })),
    code: ERROR_UPLOAD,
    what: "uploading payload `table`",
    where: `to http://127.0.0.1:${deadPort}/upload`,
    why: `connection refused (the file server URL comes from ${ENV_FILESERVER_URL})`,
    tryThis: "Start a file server",
    never: "s3cret",
  },
  {
    name: "dead file server, the argument",
    run: () => smartsend("t", TABLE, { publish: false, sizeThreshold: 0, fileserverUrl: `http://127.0.0.1:${deadPort}` }),
    code: ERROR_UPLOAD,
    what: "uploading payload `table`",
    where: `to http://127.0.0.1:${deadPort}/upload`,
    why: "connection refused (the file server URL comes from the fileserverUrl argument)",
    tryThis: "or pass fileserverUrl.",
  },
  {
    name: "a file server that does not resolve",
    run: () => smartsend("t", TABLE, { publish: false, sizeThreshold: 0, fileserverUrl: "http://no-such-host.invalid:8080" }),
    code: ERROR_UPLOAD,
    what: "uploading payload `table`",
    where: "to http://no-such-host.invalid:8080/upload",
    why: "DNS lookup of no-such-host.invalid failed",
    tryThis: "Start a file server",
  },
  {
    name: "HTTP 500 from the upload",
    run: () => smartsend("t", TABLE, { publish: false, sizeThreshold: 0, fileserverUrl: http500Url }),
    code: ERROR_UPLOAD,
    what: "uploading payload `table`",
    where: `to ${http500Url}/upload`,
    why: 'HTTP 500 Internal Server Error ("disk full")',
    tryThis: "The file server failed: see its log.",
  },
  {
    name: "a browser's opaque failure (network error or CORS)",
    run: () =>
      smartsend("t", TABLE, {
        publish: false,
        sizeThreshold: 0,
        uploader: plikUploader(`http://127.0.0.1:${deadPort}`, { fetch: async () => Promise.reject(new TypeError("Failed to fetch")) }),
      }),
    code: ERROR_UPLOAD,
    what: "uploading `table.bin` (5000 bytes)",
    where: `to http://127.0.0.1:${deadPort}/upload`,
    why: "`TypeError: Failed to fetch`: a network error or a CORS block",
    tryThis: "allows this page's origin (`natsbridge fileserver --allow-origin ORIGIN`)",
  },
  {
    name: "dead NATS server, the argument, with a password in the URL",
    run: () => smartsend("t", [["x", "y", "text"]], { connection: `nats://user:s3cret@127.0.0.1:${deadPort}` }),
    code: "NATS_CONNECTION_FAILED",
    what: "connecting to",
    where: `nats://127.0.0.1:${deadPort}`,
    why: "failed: connection refused (the NATS URL comes from the connection argument)",
    tryThis: "Start a NATS server (`nats-server -js`)",
    never: "s3cret",
  },
  {
    name: "dead NATS server, from the environment",
    run: () => withEnv({ [ENV_NATS_URL]: `nats://127.0.0.1:${deadPort}` }, () => smartsend("t", [["x", "y", "text"]])),
    code: "NATS_CONNECTION_FAILED",
    what: "connecting to",
    where: `nats://127.0.0.1:${deadPort}`,
    why: `connection refused (the NATS URL comes from ${ENV_NATS_URL})`,
    tryThis: "or pass an open connection (`connection`).",
  },
  {
    name: "misspelt option",
    run: () => smartsend("t", [["x", "y", "text"]], { publish: false, fileServerUrl: "http://x" } as never),
    code: ERROR_BAD_OPTION,
    what: "unknown option `fileServerUrl`",
    where: "of smartsend",
    why: "unknown option",
    tryThis: "did you mean `fileserverUrl`?",
  },
  {
    name: "smartrequest's own misspelt option names smartrequest",
    run: () => smartrequest(nc, "t", [["x", "y", "text"]], { timout: 100 } as never),
    code: ERROR_BAD_OPTION,
    what: "unknown option `timout`",
    where: "of smartrequest",
    why: "unknown option",
    tryThis: "did you mean `timeout`?",
  },
  {
    name: "wrong type: a string where a list is expected",
    run: async () => smartreceive((await smartsend("t", [["x", "y", "text"]], { publish: false })).json, { allowedHosts: "http://files:8080" } as never),
    code: ERROR_BAD_OPTION,
    what: "option `allowedHosts`",
    where: "of smartreceive",
    why: "allowedHosts must be a list of URLs; got the string `http://files:8080`",
    tryThis: "wrap it in a list",
  },
  {
    name: "wrong type: a number as a string",
    run: () => smartsend("t", [["x", "y", "text"]], { publish: false, sizeThreshold: "1000" } as never),
    code: ERROR_BAD_OPTION,
    what: "option `sizeThreshold`",
    where: "of smartsend",
    why: 'must be an integer of 0 or more, got the string "1000"',
    tryThis: "integer",
  },
  {
    name: "bad start",
    run: () => EnvelopeConsumer.create(nc, "TABLE", { start: "5 m" }),
    code: ERROR_BAD_OPTION,
    what: 'reading the replay start "5 m"',
    where: "(option `start` of EnvelopeConsumer.create)",
    why: "no spaces inside a duration",
    tryThis: "Give `all`, `new`",
  },
  {
    name: "a time without its offset (the naive datetime of TypeScript)",
    run: () => EnvelopeConsumer.create(nc, "TABLE", { start: "2026-12-06T09:00:00" }),
    code: ERROR_BAD_OPTION,
    what: 'reading the replay start "2026-12-06T09:00:00"',
    where: "(option `start` of EnvelopeConsumer.create)",
    why: "has no UTC offset",
    tryThis: "add `Z` (UTC) or the offset",
  },
  {
    name: "bare allowed host",
    run: async () => smartreceive((await smartsend("t", [["x", "y", "text"]], { publish: false })).json, { allowedHosts: ["files:8080"] }),
    code: ERROR_BAD_OPTION,
    what: "option `allowedHosts`",
    where: "of smartreceive, item 0",
    why: "allowed host `files:8080` is not a URL",
    tryThis: "write `http://files:8080` (or https://...)",
  },
  {
    name: "remote error",
    run: () => smartrequest(nc, "table.columns", [["q", { column: "x" }, "dictionary"]], { timeout: 5_000 }),
    code: ERROR_APPLICATION,
    what: "APPLICATION_ERROR UNKNOWN_COLUMN",
    where: "from the responder",
    why: "no column `x`",
    tryThis: "",
  },
  {
    name: "integer header value",
    run: () => smartsend("t", [["x", "y", "text"]], { publish: false, headers: { "Sample-Rate": 44100 } } as never),
    code: ERROR_BAD_OPTION,
    what: "`Sample-Rate` in option `headers`",
    where: "of smartsend",
    why: "must be a string, got the number 44100",
    tryThis: 'write it as text ("44100")',
  },
  {
    name: "timeout",
    run: () => smartrequest(nc, "table.nobody", [["x", "y", "text"]], { timeout: 200 }),
    code: ERROR_DEADLINE,
    what: "waiting for the reply to a request",
    where: "on `table.nobody`",
    why: "none came within 200 ms",
    tryThis: "Check that a responder is subscribed to `table.nobody` (serve), or give a longer timeout",
  },
  {
    name: "a value the v1 writer refuses",
    run: () => smartsend("t", [["x", "y", "text"]], { publish: false, msgPurpose: "request" }),
    code: ERROR_WRITER_RULE,
    what: "the envelope",
    where: "`msg_purpose`",
    why: "breaks the v1 writer rules",
    tryThis: "",
  },
];

for (const [index, { name }] of ROWS().entries()) {
  test(`error table: ${name}`, async () => {
    const row = ROWS()[index]!;
    const e = await row.run().then(
      () => assert.fail("it succeeded"),
      (err: unknown) => err,
    );
    assert.ok(e instanceof NatsBridgeError, `not a NatsBridgeError: ${String(e)}`);
    assert.equal(e.code, row.code, e.report());
    for (const [part, text] of [["what", row.what], ["where", row.where], ["why", row.why], ["try", row.tryThis]] as const) {
      assert.ok(e.toString().includes(text), `${part}: ${JSON.stringify(text)} is not in ${JSON.stringify(e.toString())}`);
    }
    if (row.never !== undefined) {
      assert.ok(!e.report().includes(row.never), `the report shows ${row.never}: ${e.report()}`);
      assert.ok(!JSON.stringify(e.toJSON()).includes(row.never));
    }
  });
}

test("the rows cover each mistake the issue lists", () => {
  const names = ROWS().map((r) => r.name).join("\n");
  for (const mistake of ["dead file server", "dead NATS server", "HTTP 500", "misspelt option", "wrong type", "bad start", "naive datetime", "bare allowed host", "remote error", "integer header value", "timeout"]) {
    assert.ok(names.includes(mistake), mistake);
  }
  void newUuid;
});
