/**
 * The Node entry point: everything of the core, with broker URLs connected over TCP through
 * `@nats-io/transport-node` (the core's default is WebSocket) and with the connection
 * settings of every NATSBridge runtime and CLI (`resolveConnectSettings`, `connectWith`:
 * flags, the nats CLI's environment variables and contexts, TLS, tokens, users, NKeys,
 * `.creds`), which `connectTo(url)` and a `smartsend` without a connection use too;
 * `file://` links read from the directories a receive allows (`ReceiveOptions.allowedDirs`),
 * SHA-256 by node:crypto (native, synchronous: no WebCrypto round trip per message), and
 * `connect` and `directoryUploader` (a blob store writing `file://` links) re-exported.
 */
import * as nodeCrypto from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { setConnector, setFileLinkReader, setOpener, setSeedsOf } from "./config.js";
import { openWithSettings, settingsSeeds } from "./connect.js";
import { readFileLink } from "./file-links.js";
import { setNativeSha256 } from "./wire.js";

setConnector(connect);
setOpener(openWithSettings);
setSeedsOf(settingsSeeds);
setFileLinkReader(readFileLink);
// crypto.hash (Node 20.12+) hashes in one call, without a Hash object: half the cost of createHash for 1 KB.
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: Uint8Array, encoding: "hex") => string }).hash;
setNativeSha256(oneShot !== undefined ? (bytes) => oneShot("sha256", bytes, "hex") : (bytes) => nodeCrypto.createHash("sha256").update(bytes).digest("hex"));

export * from "./index.js";
export {
  CONNECT_FLAG_NAMES,
  ConnectSettings,
  connectWith,
  resolveConnectSettings,
  type AuthKind,
  type ConnectAuth,
  type ConnectFlags,
  type ConnectTls,
  type ConnectWithOptions,
} from "./connect.js";
export { directoryUploader } from "./file-links.js";
export { connect };
