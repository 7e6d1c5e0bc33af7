// Run by browser.test.ts in a separate Node process WITHOUT Node's NATS transport: it imports the
// core entry (the package's browser export) and does a round trip over the server's WebSocket
// listener, a direct and a link payload, printing the received digest line.
import { smartreceive, smartsend, digestOfReceived, connectTo } from "../dist/index.js";

const nc = await connectTo(process.env.NATS_WS); // the core's default connector: wsconnect
const sub = nc.subscribe("ws.core", { max: 1 });
const big = new Uint8Array(600_000).map((_, i) => i % 251);
const sent = await smartsend("ws.core", [["note", "over WebSocket", "text"], ["big", big, "binary"]], {
  connection: nc,
  fileserverUrl: process.env.FILESERVER_URL,
});
for await (const m of sub) {
  const r = await smartreceive(m, { allowedHosts: [process.env.FILESERVER_URL] });
  console.log(JSON.stringify({ sent: sent.envelope.payloads.map((p) => p.transport), broker_url: sent.envelope.broker_url }));
  console.log(digestOfReceived(r));
}
await nc.close();
