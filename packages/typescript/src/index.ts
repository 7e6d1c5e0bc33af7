/**
 * @natsbridge/client: the NATSBridge runtime for TypeScript, for Node and the browser.
 *
 * This entry point uses only web-platform APIs (`fetch`, WebCrypto, `TextEncoder`) plus
 * nats.js v3 (`@nats-io/nats-core`, `@nats-io/jetstream`) and `apache-arrow`; a broker URL is
 * connected over WebSocket (`wsconnect`). In Node, the package's `node` export condition
 * loads `node.js` instead, which connects URLs over TCP (`@nats-io/transport-node`).
 */
export { ApplicationError, NatsBridgeError, type ApplicationErrorOptions, type ErrorCode } from "./errors.js";
export { allowedHost } from "./hosts.js";
export { parseStart, type Start } from "./start.js";
export { jsonLogger, log, setLogger, type LogLevel, type LogRecord, type Logger } from "./log.js";
export {
  DEFAULT_FILESERVER_URL,
  DEFAULT_NATS_URL,
  DEFAULT_SIZE_THRESHOLD,
  connectTo,
  fileserverUrl,
  natsUrl,
  setConnector,
  sizeThreshold,
  type ConnectToOptions,
  type Connector,
} from "./config.js";
export { HEADER_CORRELATION_ID, HEADER_MSG_ID, base64Decode, base64Encode, hostOf, newUuid, sha256Hex, sha256HexSync } from "./wire.js";
export {
  decodeTable,
  deserializePayload,
  serializePayload,
  type DecodedData,
  type JsonValue,
  type PayloadData,
  type PayloadTuple,
  type PayloadType,
  type TableLimits,
} from "./payload.js";
export { fetchWithBackoff, fetchHashed, type FetchOptions, type Fetched, type Sha256Stream } from "./fetch.js";
export { plikOneshotUpload, plikUpload, plikUploader, type PlikUpload, type PlikUploadOptions, type PlikUploaderOptions, type Uploader } from "./plik.js";
export { publishMessage, smartsend, type SendOptions, type Sent } from "./send.js";
export {
  payloadNamed,
  payloadTuples,
  smartreceive,
  type MessageLike,
  type ReceiveFetchOptions,
  type ReceiveOptions,
  type Received,
  type ReceivedFields,
  type ReceivedPayload,
} from "./receive.js";
export {
  decodeReply,
  errorResponse,
  serve,
  smartreply,
  smartreplyError,
  smartrequest,
  type Handler,
  type RequestOptions,
  type Server,
  type ServeOptions,
} from "./request.js";
export {
  EnvelopeConsumer,
  LINK_TTL_SLACK_SECONDS,
  ensureStream,
  publishToStream,
  type ConsumerOptions,
  type Delivered,
  type StreamOptions,
} from "./jetstream.js";
export { digestOfReceived, digestOfSent } from "./digest.js";
export type { ErrorBody, ErrorResponseV1, MsgEnvelopeV1, MsgPayloadV1, MsgPurpose } from "@natsbridge/types";
/**
 * Typed operations (what code generated from a team's AsyncAPI document calls), as the
 * namespace `typed` (`typed.request`, `typed.publishToStream`, … : the Rust runtime's
 * `natsbridge::typed`); the types and classes an application names are exported here too.
 */
export * as typed from "./typed.js";
export {
  Bridge,
  Replay,
  Subscription,
  type BridgeOptions,
  type DeliveredMessage,
  type Incoming,
  type MessageCodec,
  type SendOverrides,
  type Stored,
  type SubscribeOptions,
  type Variant,
} from "./typed.js";
