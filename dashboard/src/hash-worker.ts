/**
 * The table's SHA-256 off the page's thread: hash-wasm's streaming SHA-256 (WebAssembly) in a
 * dedicated worker, so the page keeps reading the download while the bytes already read are
 * hashed. Messages in: `init`, `update` (an ArrayBuffer and its length, transferred, sent back
 * once hashed for the page to reuse), `digest`; out: `free` (the buffer), `digest` (hex),
 * `error`. Warms up once at start: V8 compiles WebAssembly lazily and optimizes hot code later
 * (the first MiB takes ~10x longer).
 */
import { createSHA256, type IHasher } from "hash-wasm";

/** Bytes hashed once at start, to have the optimized code before the first download. */
const WARM_UP_BYTES = 8 << 20;

interface Scope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = self as unknown as Scope;

const ready: Promise<IHasher> = (async () => {
  const h = await createSHA256();
  const block = new Uint8Array(1 << 20);
  h.init();
  for (let n = 0; n < WARM_UP_BYTES; n += block.byteLength) h.update(block);
  h.digest();
  return h;
})();

type Message = { op: "init" } | { op: "update"; buf: ArrayBuffer; len: number } | { op: "digest" };

// Messages are handled in order: each waits for the one before (the first waits for the warm-up).
let queue: Promise<unknown> = ready;
scope.onmessage = (e: MessageEvent) => {
  const m = e.data as Message;
  queue = queue.then(async () => {
    const h = await ready;
    try {
      if (m.op === "init") h.init();
      else if (m.op === "update") {
        h.update(new Uint8Array(m.buf, 0, m.len));
        scope.postMessage({ op: "free", buf: m.buf }, [m.buf]);
      } else scope.postMessage({ op: "digest", hex: h.digest("hex") });
    } catch (err) {
      scope.postMessage({ op: "error", message: String(err) });
    }
  });
};
