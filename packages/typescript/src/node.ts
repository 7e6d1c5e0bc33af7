/**
 * The Node entry point: everything of the core, with broker URLs connected over TCP through
 * `@nats-io/transport-node` (the core's default is WebSocket), and `connect` re-exported.
 */
import { connect } from "@nats-io/transport-node";
import { setConnector } from "./config.js";

setConnector(connect);

export * from "./index.js";
export { connect };
