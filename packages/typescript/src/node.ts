/**
 * The Node entry point: everything of the core, with broker URLs connected over TCP through
 * `@nats-io/transport-node` (the core's default is WebSocket) and with the connection
 * settings of every NATSBridge runtime and CLI (`resolveConnectSettings`, `connectWith`:
 * flags, the nats CLI's environment variables and contexts, TLS, tokens, users, NKeys,
 * `.creds`), which `connectTo(url)` and a `smartsend` without a connection use too;
 * `file://` links read from the directories a receive allows (`ReceiveOptions.allowedDirs`),
 * and `connect` and `directoryUploader` (a blob store writing `file://` links) re-exported.
 */
import { connect } from "@nats-io/transport-node";
import { setConnector, setFileLinkReader, setOpener, setSeedsOf } from "./config.js";
import { openWithSettings, settingsSeeds } from "./connect.js";
import { readFileLink } from "./file-links.js";

setConnector(connect);
setOpener(openWithSettings);
setSeedsOf(settingsSeeds);
setFileLinkReader(readFileLink);

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
