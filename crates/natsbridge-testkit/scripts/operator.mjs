// Operator-mode credentials for a test, made with the nats-io libraries (@nats-io/jwt,
// @nats-io/nkeys): an operator, a system account, an account APP with JetStream, a user of
// APP, and a user of an account the server does not know. Usage: node operator.mjs OUTDIR
// Writes OUTDIR/operator.jwt, OUTDIR/app.creds, OUTDIR/stranger.creds and prints one JSON
// line: {"operator": FILE, "system_account": PUB, "preload": {PUB: JWT, ...}}.
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2];
if (!out) throw new Error("usage: node operator.mjs OUTDIR");
mkdirSync(out, { recursive: true });
const write = (name, data) => {
  writeFileSync(join(out, name), data, { mode: 0o600 });
  return join(out, name);
};

const operator = createOperator();
const sys = createAccount();
const app = createAccount();
const other = createAccount();
const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
// JetStream is on for an account whose storage limits are not zero (-1: unlimited).
const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
const operatorJwt = await encodeOperator("NATSBRIDGE_TEST", operator, { system_account: sys.getPublicKey() });
const sysJwt = await encodeAccount("SYS", sys, { limits: unlimited }, { signer: operator });
const appJwt = await encodeAccount("APP", app, { limits: { ...unlimited, ...jetstream } }, { signer: operator });
const user = createUser();
const stranger = createUser();
write("app.creds", fmtCreds(await encodeUser("app-user", user, app), user));
write("stranger.creds", fmtCreds(await encodeUser("stranger", stranger, other), stranger));
console.log(JSON.stringify({
  operator: write("operator.jwt", operatorJwt),
  system_account: sys.getPublicKey(),
  preload: { [sys.getPublicKey()]: sysJwt, [app.getPublicKey()]: appJwt },
}));
