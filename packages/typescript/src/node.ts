/**
 * The Node entry point: everything of the core, with broker URLs connected over TCP through
 * `@nats-io/transport-node` (the core's default is WebSocket), `file://` links read from the
 * directories a receive allows (`ReceiveOptions.allowedDirs`), and `connect` and
 * `directoryUploader` (a blob store writing `file://` links) re-exported.
 */
import { connect } from "@nats-io/transport-node";
import { setConnector, setFileLinkReader } from "./config.js";
import { readFileLink } from "./file-links.js";

setConnector(connect);
setFileLinkReader(readFileLink);

export * from "./index.js";
export { directoryUploader } from "./file-links.js";
export { connect };
