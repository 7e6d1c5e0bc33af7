/** Bad input is a NatsBridgeError with its code, the correlation id and the dataname; nothing else is thrown. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { NatsBridgeError, directoryUploader, smartreceive, smartsend, type ErrorCode } from "../dist/node.js";
import { startFileServer, type Running } from "./helpers.ts";
import { bytes } from "./samples.ts";

let files: Running;
before(async () => {
  files = await startFileServer();
});
after(async () => {
  await files?.stop();
});

const CID = "0b7e4e4c-4f53-4a4e-9a51-6a3f0f7d2c11";

async function envelope(threshold: number): Promise<Record<string, unknown> & { payloads: Record<string, unknown>[] }> {
  const sent = await smartsend("bad.data", [["blob", bytes(5000), "binary"], ["note", "hello", "text"]], {
    publish: false,
    correlationId: CID,
    sizeThreshold: threshold,
    fileserverUrl: files.url,
  });
  return JSON.parse(sent.json) as Record<string, unknown> & { payloads: Record<string, unknown>[] };
}

async function expectError(body: string | Record<string, unknown>, code: ErrorCode, dataname: string | undefined, options = {}, expectCid = true) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  await assert.rejects(smartreceive(text, { allowedHosts: [files.url], fetch: { maxAttempts: 2, baseDelayMs: 10 }, ...options }), (e: unknown) => {
    assert.ok(e instanceof NatsBridgeError, `a NatsBridgeError, not ${String(e)}`);
    assert.equal(e.code, code, e.report());
    assert.equal(e.correlationId, expectCid ? CID : undefined, e.report());
    assert.equal(e.dataname, dataname, e.report());
    return true;
  });
}

test("direct payloads: size, sha256, base64, type and transport are checked", async () => {
  const good = await envelope(500_000);
  const mutate = (f: (p: Record<string, unknown>) => void) => {
    const e = structuredClone(good);
    f(e.payloads[0]!);
    return e;
  };
  await expectError(mutate((p) => (p["size"] = 4999)), "INTEGRITY_MISMATCH", "blob");
  await expectError(mutate((p) => ((p["metadata"] as Record<string, unknown>)["sha256"] = "0".repeat(64))), "INTEGRITY_MISMATCH", "blob");
  await expectError(mutate((p) => (p["data"] = "!" + String(p["data"]).slice(1))), "DESERIALIZATION_ERROR", "blob");
  await expectError(mutate((p) => (p["payload_type"] = "hologram")), "INVALID_PAYLOAD_TYPE", "blob");
  await expectError(mutate((p) => (p["transport"] = "pigeon")), "INVALID_TRANSPORT", "blob");
  await expectError(mutate((p) => (p["size"] = 5 * 2 ** 30)), "PAYLOAD_TOO_LARGE", "blob");
  // Non-canonical trailing bits: "aGk=" is "hi", "aGl=" decodes to "hi" too but is not canonical.
  const e = structuredClone(good);
  e.payloads[1] = { ...e.payloads[1]!, data: "aGl=", size: 2, metadata: {} };
  await expectError(e, "DESERIALIZATION_ERROR", "note");
  // A text payload whose bytes are not UTF-8.
  const f = structuredClone(good);
  f.payloads[1] = { ...f.payloads[1]!, data: "//4=", size: 2, metadata: {} };
  await expectError(f, "DESERIALIZATION_ERROR", "note");
});

test("link payloads: host, size and sha256 are checked", async () => {
  const good = await envelope(1000);
  assert.equal(good.payloads[0]!["transport"], "link");
  const mutate = (f: (p: Record<string, unknown>) => void) => {
    const e = structuredClone(good);
    f(e.payloads[0]!);
    return e;
  };
  await expectError(mutate((p) => ((p["metadata"] as Record<string, unknown>)["sha256"] = "f".repeat(64))), "INTEGRITY_MISMATCH", "blob");
  await expectError(mutate((p) => (p["size"] = 4000)), "INTEGRITY_MISMATCH", "blob");
  await expectError(mutate((p) => (p["data"] = String(p["data"]).replace("127.0.0.1", "localhost"))), "URL_NOT_ALLOWED", "blob");
  await expectError(mutate((p) => (p["data"] = "file:///etc/passwd")), "URL_NOT_ALLOWED", "blob");
  await expectError(mutate((p) => (p["data"] = String(p["data"]) + "x")), "DOWNLOAD_FAILED", "blob");
  await expectError(good, "URL_NOT_ALLOWED", "blob", { allowedHosts: [] });
  // Declared size over the download limit: refused before anything is fetched or allocated.
  await expectError(good, "PAYLOAD_TOO_LARGE", "blob", { fetch: { maxBytes: 100 } });
});

test("envelopes that are not envelopes", async () => {
  await assert.rejects(smartreceive("not json"), (e: unknown) => e instanceof NatsBridgeError && e.code === "INVALID_ENVELOPE");
  const good = await envelope(500_000);
  const { msg_id: _drop, ...noMsgId } = good;
  await expectError(noMsgId, "INVALID_ENVELOPE", undefined);
  // Too big to parse: the correlation id is only known from the Correlation-Id header (none here).
  await expectError(JSON.stringify(good), "PAYLOAD_TOO_LARGE", undefined, { maxEnvelopeBytes: 100 }, false);
  await expectError(good, "PAYLOAD_TOO_LARGE", undefined, { maxPayloads: 1 });
  // Bytes that are not UTF-8.
  await assert.rejects(smartreceive(new Uint8Array([0xff, 0xfe, 0x7b])), (e: unknown) => e instanceof NatsBridgeError && e.code === "INVALID_ENVELOPE");
  // The limit counts UTF-8 bytes, also for text: 1 000 characters of "é" are 2 000 bytes.
  const wide = JSON.stringify({ ...good, metadata: { pad: "é".repeat(1000) } });
  const bytesOfWide = new TextEncoder().encode(wide).length;
  assert.ok(wide.length < bytesOfWide - 900);
  await expectError(wide, "PAYLOAD_TOO_LARGE", undefined, { maxEnvelopeBytes: bytesOfWide - 1 }, false);
  await smartreceive(wide, { allowedHosts: [files.url], maxEnvelopeBytes: bytesOfWide });
  await smartreceive(new TextEncoder().encode(wide), { allowedHosts: [files.url], maxEnvelopeBytes: bytesOfWide });
});

test("random corruption of an envelope never throws anything but a NatsBridgeError", async () => {
  const text = JSON.stringify(await envelope(500_000));
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let failures = 0;
  for (let i = 0; i < 400; i++) {
    const chars = Array.from(text);
    for (let k = 0; k < 1 + rand(4); k++) chars[rand(chars.length)] = String.fromCharCode(32 + rand(95));
    try {
      await smartreceive(chars.join(""), { allowedHosts: [] });
    } catch (e) {
      assert.ok(e instanceof NatsBridgeError, `iteration ${i}: ${String(e)}`);
      failures++;
    }
  }
  assert.ok(failures > 100);
});

test("bad sender input is a typed error too", async () => {
  for (const [payloads, code] of [
    [[["t", 42, "text"]], "SERIALIZATION_ERROR"],
    [[["rows", [1, 2], "jsontable"]], "SERIALIZATION_ERROR"],
    [[["d", { n: 1n }, "dictionary"]], "SERIALIZATION_ERROR"],
    // Lone surrogates have no UTF-8 form: never replaced by U+FFFD or escaped for a reader to choke on.
    [[["t", "a\ud800b", "text"]], "SERIALIZATION_ERROR"],
    [[["t", "\udc00", "text"]], "SERIALIZATION_ERROR"],
    [[["d", { k: ["ok", "a\udfff"] }, "dictionary"]], "SERIALIZATION_ERROR"],
    [[["d", { ["\ud83d"]: 1 }, "dictionary"]], "SERIALIZATION_ERROR"],
    [[["rows", [{ a: "\ud800\ud800" }], "jsontable"]], "SERIALIZATION_ERROR"],
    [[["x", "y", "hologram"]], "INVALID_PAYLOAD_TYPE"],
  ] as const) {
    await assert.rejects(smartsend("s", payloads as never, { publish: false, correlationId: CID }), (e: unknown) => {
      return e instanceof NatsBridgeError && e.code === code && e.correlationId === CID && e.dataname === payloads[0]![0];
    });
  }
  await assert.rejects(smartsend("s", [], { publish: false, correlationId: "nope" }), (e: unknown) => e instanceof NatsBridgeError && e.code === "SERIALIZATION_ERROR");
  // ... in an envelope field either; well-formed text (a pair, an escaped backslash before "ud800") goes through.
  for (const [dataname, metadata] of [["\ud800", {}], ["ok", { note: "x\udbff" }]] as const) {
    await assert.rejects(smartsend("s", [[dataname, "hi", "text"]], { publish: false, correlationId: CID, metadata }), (e: unknown) => {
      return e instanceof NatsBridgeError && e.code === "SERIALIZATION_ERROR" && e.correlationId === CID;
    });
  }
  const fine = await smartsend("s", [["😀", "😀 \\ud800", "text"], ["d", { "\\ud800": "😀" }, "dictionary"]], { publish: false, correlationId: CID });
  const back = await smartreceive(fine.json);
  assert.deepEqual(back.payloads.map((p) => p.data), ["😀 \\ud800", { "\\ud800": "😀" }]);
  await assert.rejects(
    smartsend("s", [["big", bytes(10), "binary"]], { publish: false, correlationId: CID, sizeThreshold: 1, fileserverUrl: "http://127.0.0.1:1" }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === "UPLOAD_FAILED" && e.correlationId === CID && e.dataname === "big",
  );
});

test("file:// links are read only from allowedDirs: outside, through .. or a symbolic link out, refused; a wrong length is INTEGRITY_MISMATCH", async () => {
  const root = mkdtempSync(join(tmpdir(), "nb-ts-file-links-"));
  try {
    const store = join(root, "store");
    const sent = await smartsend("bad.files", [["blob", bytes(5000), "binary"]], {
      publish: false,
      correlationId: CID,
      sizeThreshold: 100,
      uploader: directoryUploader(store),
    });
    const env = JSON.parse(sent.json) as { payloads: Record<string, unknown>[] };
    const link = String(env.payloads[0]!["data"]);
    assert.match(link, /^file:\/\//);
    const got = await smartreceive(sent.json, { allowedDirs: [store] });
    assert.deepEqual(got.payload("blob")?.data, bytes(5000));
    assert.equal(got.payload("blob")?.transport, "link");

    await expectError(sent.json, "URL_NOT_ALLOWED", "blob", {}); // no allowed directory
    mkdirSync(join(root, "other"));
    await expectError(sent.json, "URL_NOT_ALLOWED", "blob", { allowedDirs: [join(root, "other")] });
    // A file outside, reached by a symbolic link inside the allowed directory.
    writeFileSync(join(root, "secret.bin"), bytes(5000));
    symlinkSync(join(root, "secret.bin"), join(store, "escape.bin"));
    const withLink = (url: string) => JSON.stringify({ ...env, payloads: [{ ...env.payloads[0], data: url }] });
    await expectError(withLink(pathToFileURL(join(store, "escape.bin")).href), "URL_NOT_ALLOWED", "blob", { allowedDirs: [store] });
    await expectError(withLink(`file://${store}/../secret.bin`), "URL_NOT_ALLOWED", "blob", { allowedDirs: [store] });
    // Inside, but not the bytes declared.
    writeFileSync(join(store, "short.bin"), bytes(10));
    await expectError(withLink(pathToFileURL(join(store, "short.bin")).href), "INTEGRITY_MISMATCH", "blob", { allowedDirs: [store] });
    await expectError(withLink(pathToFileURL(join(store, "missing.bin")).href), "DOWNLOAD_FAILED", "blob", { allowedDirs: [store] });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
