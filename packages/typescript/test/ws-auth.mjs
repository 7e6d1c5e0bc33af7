// Run by browser.test.ts in a separate Node process WITHOUT Node's NATS transport (the core
// entry, as a page has it): a WebSocket listener asking for a token, reached with the token as
// a `connectTo` option and as the URL's user info (which nats.js alone ignores); a wrong one is
// NATS_CONNECTION_FAILED saying which credential was sent, never its value.
import { connectTo } from "../dist/index.js";

const url = new URL(process.env.NATS_WS);
const token = process.env.WS_TOKEN;
for (const [what, connecting] of [
  ["option", () => connectTo(url.href, { token })],
  ["user info", () => connectTo(`${url.protocol}//${encodeURIComponent(token)}@${url.host}`)],
]) {
  const nc = await connecting();
  await nc.flush();
  console.log(JSON.stringify({ connected: what }));
  await nc.close();
}
try {
  await connectTo(`${url.protocol}//wrong-${token}@${url.host}`);
  console.log(JSON.stringify({ connected: "wrong token" }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.report() }));
}
