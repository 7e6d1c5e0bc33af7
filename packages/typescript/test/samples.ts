/** Sample payloads of all eight types, and checks that a received payload equals what was sent. */
import assert from "node:assert/strict";
import { Table, makeVector, vectorFromArray, Utf8 } from "apache-arrow";
import type { PayloadTuple, ReceivedPayload } from "../dist/node.js";

export function sampleTable(rows: number): Table {
  const ids = new Int32Array(rows);
  const values = new Float64Array(rows);
  const labels: string[] = [];
  for (let i = 0; i < rows; i++) {
    ids[i] = i;
    values[i] = i / 3;
    labels.push(`r${i % 97}`);
  }
  return new Table({ id: makeVector(ids), value: makeVector(values), label: vectorFromArray(labels, new Utf8()) });
}

export function bytes(n: number, mul = 13): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * mul) % 256);
}

export function samples(): PayloadTuple[] {
  return [
    ["note", "Hello from TypeScript — ünïcödé 😀", "text"],
    ["config", { step_size: 0.01, iterations: 1000, nested: { ok: true, list: [1, "two", null] } }, "dictionary"],
    ["table", sampleTable(1000), "arrowtable"],
    ["rows", [{ a: 1, b: "x" }, { a: 2, b: "ü" }], "jsontable"],
    ["image", bytes(2000), "image"],
    ["audio", bytes(4000, 7), "audio"],
    ["video", bytes(3000, 11), "video"],
    ["binary", bytes(256, 1), "binary"],
  ];
}

/** The received payload holds what the tuple sent. */
export function assertSame(sent: PayloadTuple, got: ReceivedPayload): void {
  const [name, data, type] = sent;
  assert.equal(got.dataname, name);
  assert.equal(got.payload_type, type);
  switch (type) {
    case "arrowtable": {
      const t = got.data as Table;
      const s = data as Table;
      assert.equal(t.numRows, s.numRows);
      assert.deepEqual(t.schema.fields.map((f) => f.name), s.schema.fields.map((f) => f.name));
      for (const f of s.schema.fields) {
        assert.deepEqual(Array.from(t.getChild(f.name)!.toArray() as ArrayLike<unknown>), Array.from(s.getChild(f.name)!.toArray() as ArrayLike<unknown>), f.name);
      }
      break;
    }
    case "text":
    case "dictionary":
    case "jsontable":
      assert.deepEqual(got.data, data);
      break;
    default:
      assert.deepEqual(Array.from(got.data as Uint8Array), Array.from(data as Uint8Array));
  }
}
