/**
 * Connection settings (schema/README.md rule 17) beyond the conformance cases
 * (conformance/v1/arguments-connect.json): the process environment as the default, printing
 * settings or their errors never shows a secret, the options check; and real nats-servers
 * asking for a token, a user and password (also as URL user info, which nats.js alone
 * ignores) and an NKey, reached through `connectWith`, `connectTo`, smartsend's own
 * connection, a nats CLI context and `natsbridge-js`; the file server's token from
 * FILESERVER_TOKEN and `--fileserver-token`; what the conformance cases cannot show: an
 * unreadable `context.txt`, credential and TLS files checked before connecting, secrets of the
 * wrong type told by their type only, the CLI's exit codes, `broker_url` of an envelope not
 * published.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { inspect } from "node:util";
import { after, before, test } from "node:test";
import { nkeys, type NatsConnection } from "@nats-io/nats-core";
import {
  CONTEXT_DIR,
  CONTEXT_FILE_EXTENSION,
  CONTEXT_SELECTED_FILE,
  ENV_FILESERVER_TOKEN,
  ENV_FILESERVER_URL,
  ENV_HOME,
  ENV_NATS_CA,
  ENV_NATS_CERT,
  ENV_NATS_CONTEXT,
  ENV_NATS_CREDS,
  ENV_NATS_KEY,
  ENV_NATS_NKEY,
  ENV_NATS_PASSWORD,
  ENV_NATS_TOKEN,
  ENV_NATS_URL,
  ENV_NATS_USER,
  ENV_XDG_CONFIG_HOME,
  ERROR_BAD_OPTION,
  ERROR_UPLOAD,
} from "@natsbridge/types";
import { NatsBridgeError, connectTo, connectWith, newUuid, resolveConnectSettings, smartsend, type ConnectFlags, type ConnectSettings } from "@natsbridge/client";
import { cliArgs, run, startFileServer, startNats, type Running } from "./helpers.ts";

const TOKEN = "tok-Zq81-SECRET";
const PASSWORD = "pw Zq82/SECRET";
const WRONG = "wrong-Zq83-SECRET";
/** Every secret of this file: none may appear in anything printed. */
const SECRETS = ["Zq81", "Zq82", "Zq83", "Zq84", "Zq85"];

let tokenServer: Running;
let userServer: Running;
let files: Running;
let home: string;
let seedFile: string;

/** The environment a test runs with: only what it names, HOME an empty scratch directory (no selected context). */
function envOf(vars: Record<string, string> = {}): Record<string, string> {
  return { [ENV_HOME]: home, ...vars };
}

/** Runs `body` with the process environment's variables set (`undefined`: unset), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await body();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** No NATS or context variable of the machine running the tests leaks in. */
const CLEAN: Record<string, undefined> = Object.fromEntries(
  [ENV_NATS_URL, ENV_NATS_CONTEXT, ENV_NATS_TOKEN, ENV_NATS_USER, ENV_NATS_PASSWORD, ENV_NATS_CREDS, ENV_NATS_NKEY, ENV_NATS_CA, ENV_NATS_CERT, ENV_NATS_KEY, ENV_XDG_CONFIG_HOME, ENV_FILESERVER_TOKEN].map((k) => [k, undefined]),
);

function assertNoSecret(text: string, what: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${what} shows a secret: ${text}`);
}

async function refused(body: () => unknown, code: string, pattern: RegExp): Promise<NatsBridgeError> {
  try {
    await body();
  } catch (e) {
    assert.ok(e instanceof NatsBridgeError, String(e));
    assert.equal(e.code, code, e.report());
    assert.match(e.message, pattern);
    assertNoSecret(e.report(), "the error");
    assertNoSecret(inspect(e), "the inspected error");
    return e;
  }
  assert.fail(`no error (expected ${pattern})`);
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), "nb-ts-connect-"));
  const user = nkeys.createUser();
  seedFile = join(home, "svc.nk");
  // As `nsc` and the nats CLI write seeds: with a newline, which nkeys refuses untrimmed.
  writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
  tokenServer = await startNats({ config: [`authorization { token: "${TOKEN}" }`] });
  userServer = await startNats({
    config: [`authorization { users: [ { user: "alice", password: "${PASSWORD}" }, { nkey: "${user.getPublicKey()}" } ] }`],
  });
  files = await startFileServer(["--token", "ft-Zq84-SECRET"]);
});

after(async () => {
  await files?.stop();
  await userServer?.stop();
  await tokenServer?.stop();
  rmSync(home, { recursive: true, force: true });
});

function port(server: Running): string {
  return server.url.slice(server.url.lastIndexOf(":") + 1);
}

async function roundTrip(nc: NatsConnection): Promise<void> {
  try {
    const subject = `connect.${newUuid()}`;
    const sub = nc.subscribe(subject, { max: 1 });
    nc.publish(subject, "ping");
    for await (const m of sub) assert.equal(m.string(), "ping");
  } finally {
    await nc.close();
  }
}

test("the process environment is the default environment, read when resolving", async () => {
  await withEnv({ ...CLEAN, [ENV_HOME]: home, [ENV_NATS_URL]: "nats://e:1", [ENV_NATS_TOKEN]: TOKEN }, () => {
    const s = resolveConnectSettings();
    assert.deepEqual(s.servers, ["nats://e:1"]);
    assert.equal(s.serversSource, ENV_NATS_URL);
    assert.deepEqual(s.auth, { kind: "token", source: ENV_NATS_TOKEN });
    assert.equal(s.token, TOKEN);
    assert.equal(String(s), `servers=nats://e:1 auth=token from ${ENV_NATS_TOKEN}`);
  });
  // A flag beats the environment; an explicit env argument replaces the process's.
  await withEnv({ ...CLEAN, [ENV_HOME]: home, [ENV_NATS_URL]: "nats://e:1" }, () => {
    assert.deepEqual(resolveConnectSettings({ server: "f:2" }).servers, ["nats://f:2"]);
    assert.deepEqual(resolveConnectSettings({}, envOf()).servers, ["nats://localhost:4222"]);
  });
});

test("printed settings (String, inspect, JSON, template) show no secret; the settings are immutable", () => {
  const all: [ConnectSettings, string][] = [
    [resolveConnectSettings({ server: `nats://alice:${encodeURIComponent(PASSWORD)}@h:4222/?jwt=Zq85`, tlsFirst: true }, envOf()), "servers=nats://h:4222/?REDACTED auth=user_password from the user info of --server tls"],
    [resolveConnectSettings({ server: "h1,h2:4223", token: TOKEN }, envOf()), "servers=nats://h1,nats://h2:4223 auth=token from --token"],
    [resolveConnectSettings({ user: "bob" }, envOf({ [ENV_NATS_PASSWORD]: PASSWORD })), `servers=nats://localhost:4222 auth=user_password from --user`],
  ];
  for (const [s, shown] of all) {
    for (const text of [String(s), `${s}`, inspect(s), inspect({ nested: [s] }, { depth: 9, showHidden: true }), JSON.stringify(s), JSON.stringify({ s })]) {
      assertNoSecret(text, "printed settings");
    }
    assert.equal(String(s), shown);
    assert.equal(inspect(s), shown);
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.auth) && Object.isFrozen(s.tls) && Object.isFrozen(s.servers));
    assert.throws(() => ((s as { serversSource: string }).serversSource = "x"), TypeError);
  }
  const [first] = all[0]!;
  assert.equal(first.password, PASSWORD, "the secret itself is there for the connect");
  assert.equal(first.auth.user, "alice");
});

test("refused settings name their sources and never a secret", async () => {
  const env = envOf({ [ENV_NATS_TOKEN]: TOKEN });
  await refused(() => resolveConnectSettings({ user: "alice", password: PASSWORD }, env), "INVALID_ARGUMENT", /two kinds of credentials: user_password \(--user, --password\) and token \(NATS_TOKEN\); give one/);
  await refused(() => resolveConnectSettings({ server: `nats://alice:${WRONG}@h`, creds: "/x.creds" }, envOf()), "INVALID_ARGUMENT", /user_password \(the user info of --server\) and creds \(--creds\)/);
  await refused(() => resolveConnectSettings({ password: WRONG }, envOf()), "INVALID_ARGUMENT", /--password needs a user too/);
  await refused(() => resolveConnectSettings({ server: `alice:${WRONG}@h:99999` }, envOf()), "INVALID_ARGUMENT", /a server URL of --server does not parse \(it is not shown/);
  await refused(() => resolveConnectSettings({ token: `env://Zq85` }, envOf()), "INVALID_ARGUMENT", /--token is an environment variable reference/);
  await refused(() => resolveConnectSettings({ tlsKey: "/k.pem" }, envOf()), "INVALID_ARGUMENT", /--tls-key needs a certificate too \(--tls-cert, NATS_CERT or a context's cert\)/);
  await refused(() => resolveConnectSettings({ context: "nope" }, envOf()), "INVALID_ARGUMENT", /--context: the nats CLI context 'nope' does not exist \(.*nope\.json\)/);
  // Neither XDG_CONFIG_HOME nor HOME: nothing can be selected (no error), a name cannot be found.
  assert.equal(resolveConnectSettings({}, {}).context, null);
  await refused(() => resolveConnectSettings({ context: "prod" }, {}), "INVALID_ARGUMENT", /neither XDG_CONFIG_HOME nor HOME is set/);
  // The options check of every call.
  await refused(() => resolveConnectSettings({ tlsCA: "x" } as never, envOf()), ERROR_BAD_OPTION, /unknown option `tlsCA` of resolveConnectSettings: did you mean `tlsCa`\?/);
  await refused(() => resolveConnectSettings({ noContext: "yes" } as never, envOf()), ERROR_BAD_OPTION, /`noContext` of resolveConnectSettings must be a boolean/);
  await refused(() => connectWith({}, { token: TOKEN } as never), ERROR_BAD_OPTION, /unknown option `token` of connectWith/);
  await refused(() => connectTo(tokenServer.url, { token: TOKEN, authenticator: () => ({}) } as never), "INVALID_ARGUMENT", /two kinds of credentials: option `authenticator` of connectTo and token \(option `token` of connectTo\)/);
});

test("a token server: connectWith, connectTo's option, smartsend's own connection from NATS_URL + NATS_TOKEN; a wrong token says which was sent", async () => {
  await withEnv({ ...CLEAN, [ENV_HOME]: home }, async () => {
    await roundTrip(await connectWith({ server: tokenServer.url, token: TOKEN }, { name: "connect-settings-test" }));
    await roundTrip(await connectTo(tokenServer.url, { token: TOKEN }));
    await roundTrip(await connectTo(`nats://${TOKEN}@127.0.0.1:${port(tokenServer)}`));
    const e = await refused(() => connectWith({ server: tokenServer.url, token: WRONG }), "NATS_CONNECTION_FAILED", /connecting to nats:\/\/127\.0\.0\.1:\d+ failed: .*[Aa]uthorization [Vv]iolation: the server refused the token from --token \(the NATS URL comes from --server\)\. Check the credentials/);
    assert.ok(!e.report().includes(WRONG));
    await refused(() => connectWith({ server: tokenServer.url }), "NATS_CONNECTION_FAILED", /the server refused a connection without credentials/);
  });
  const watcher = await connectWith({ server: tokenServer.url, token: TOKEN });
  try {
    const subject = `connect.env.${newUuid()}`;
    const sub = watcher.subscribe(subject, { max: 1 });
    await watcher.flush();
    const sent = await withEnv({ ...CLEAN, [ENV_HOME]: home, [ENV_NATS_URL]: `nats://127.0.0.1:${port(tokenServer)}`, [ENV_NATS_TOKEN]: TOKEN }, () =>
      smartsend(subject, [["note", "hi", "text"]]),
    );
    assert.equal(sent.envelope.broker_url, `nats://127.0.0.1:${port(tokenServer)}`);
    for await (const m of sub) assert.equal(JSON.parse(m.string()).msg_id, sent.envelope.msg_id);
    // A caller's broker URL and a URL's user info never reach the envelope.
    const quiet = await smartsend(subject, [["n", "x", "text"]], { publish: false, brokerUrl: `nats://u:${WRONG}@b:1?t=Zq85` });
    assert.equal(quiet.envelope.broker_url, "nats://b:1?REDACTED");
    const bare = await smartsend(subject, [["n", "x", "text"]], { publish: false, connection: `u:${WRONG}@b:1` });
    assert.equal(bare.envelope.broker_url, "nats://b:1");
  } finally {
    await watcher.close();
  }
});

test("users: user info of a URL (percent-decoded), --user with NATS_PASSWORD, an NKey seed file (with its newline)", async () => {
  await withEnv({ ...CLEAN, [ENV_HOME]: home }, async () => {
    await roundTrip(await connectTo(`nats://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port(userServer)}`));
    await withEnv({ [ENV_NATS_PASSWORD]: PASSWORD }, async () => roundTrip(await connectWith({ server: userServer.url, user: "alice" })));
    await roundTrip(await connectWith({ server: userServer.url, nkey: seedFile }));
    await refused(
      () => connectTo(`nats://alice:${WRONG}@127.0.0.1:${port(userServer)}`),
      "NATS_CONNECTION_FAILED",
      /the server refused user 'alice' and its password from the user info of the url argument of connectTo/,
    );
    await refused(() => connectWith({ server: userServer.url, nkey: join(home, "missing.nk") }), "INVALID_ARGUMENT", /--nkey names .*missing\.nk, which cannot be read/);
  });
});

/** A context file as `nats context save` writes it (every field, two-space indent, no final newline). */
function writeContext(root: string, name: string, fields: Record<string, unknown>): void {
  const all = {
    description: "",
    url: "",
    socks_proxy: "",
    token: "",
    user: "",
    password: "",
    creds: "",
    nkey: "",
    cert: "",
    key: "",
    ca: "",
    nsc: "",
    jetstream_domain: "",
    jetstream_api_prefix: "",
    jetstream_event_prefix: "",
    inbox_prefix: "",
    user_jwt: "",
    user_seed: "",
    color_scheme: "",
    tls_first: false,
    windows_cert_store: "",
    windows_cert_match_by: "",
    windows_cert_match: "",
    windows_ca_certs_match: null,
    ...fields,
  };
  mkdirSync(join(root, CONTEXT_DIR), { recursive: true });
  writeFileSync(join(root, CONTEXT_DIR, `${name}${CONTEXT_FILE_EXTENSION}`), JSON.stringify(all, null, 2));
}

test("natsbridge-js: connection flags, the selected context, refused settings, help without values, --fileserver-token", async () => {
  const ctxHome = mkdtempSync(join(tmpdir(), "nb-ts-ctx-"));
  try {
    const config = join(ctxHome, ".config");
    writeContext(config, "secured", { url: `nats://127.0.0.1:${port(userServer)}`, nkey: "~/svc.nk" });
    writeFileSync(join(ctxHome, "svc.nk"), readFileSync(seedFile, "utf8"), { mode: 0o600 });
    writeFileSync(join(config, CONTEXT_SELECTED_FILE), "secured\n");
    const env = { [ENV_HOME]: ctxHome };
    const cli = (args: string[], extra: Record<string, string> = {}) => {
      const [node, argv] = cliArgs(...args);
      return run(node, argv, { ...env, ...extra });
    };
    const subject = `connect.cli.${newUuid()}`;
    // The selected context (url + NKey), a flag token on the token server, user info in NATS_URL.
    for (const [args, extra] of [
      [[], {}],
      [["--server", tokenServer.url, "--token", TOKEN], {}],
      [["--no-context", "--fileserver", files.url, "--fileserver-token", "ft-Zq84-SECRET", "--threshold", "0"], { [ENV_NATS_URL]: `nats://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port(userServer)}` }],
    ] as [string[], Record<string, string>][]) {
      const r = await cli(["send", "--subject", subject, "--payload", "n:text:hi", ...args], extra);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assertNoSecret(r.stdout + r.stderr, "the CLI's output");
    }
    // FILESERVER_TOKEN is the token's default; without any, the file server refuses the upload.
    const withEnvToken = await cli(["send", "--no-publish", "--subject", subject, "--payload", "n:text:hi", "--fileserver", files.url, "--threshold", "0"], { [ENV_FILESERVER_TOKEN]: "ft-Zq84-SECRET" });
    assert.equal(withEnvToken.code, 0, withEnvToken.stderr);
    const noToken = await cli(["send", "--no-publish", "--subject", subject, "--payload", "n:text:hi", "--fileserver", files.url, "--threshold", "0"]);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, new RegExp(`${ERROR_UPLOAD}: .*401`));
    // --no-publish names the broker the settings name, without its user info.
    const quiet = await cli(["send", "--no-publish", "--no-context", "--subject", subject, "--payload", "n:text:hi"], { [ENV_NATS_URL]: `nats://u:${WRONG}@b:4222` });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(JSON.parse(quiet.stdout).broker_url, "nats://b:4222");
    // Refused settings: exit 1, naming the sources; contradicting flags: a usage error.
    for (const [args, extra, code, message] of [
      [["--user", "alice"], {}, 1, /INVALID_ARGUMENT: --user needs a password too/],
      [["--context", "nope"], {}, 1, /INVALID_ARGUMENT: --context: the nats CLI context 'nope' does not exist/],
      [["--token", WRONG], { [ENV_NATS_NKEY]: seedFile }, 1, /two kinds of credentials: token \(--token\) and nkey \(NATS_NKEY\)/],
      [["--context", "secured", "--no-context"], {}, 2, /--no-context cannot go with --context/],
      [["--token", WRONG, "--server", tokenServer.url, "--no-context"], {}, 1, /NATS_CONNECTION_FAILED: .*the server refused the token from --token/],
    ] as [string[], Record<string, string>, number, RegExp][]) {
      const r = await cli(["send", "--subject", subject, "--payload", "n:text:hi", ...args], extra);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assertNoSecret(r.stdout + r.stderr, "the CLI's error");
    }
    // Help names the environment variables, never their values.
    const secretEnv = { [ENV_NATS_URL]: `nats://u:${WRONG}@h`, [ENV_NATS_TOKEN]: TOKEN, [ENV_NATS_PASSWORD]: PASSWORD, [ENV_FILESERVER_TOKEN]: "ft-Zq84-SECRET", [ENV_FILESERVER_URL]: `http://u:${WRONG}@f` };
    for (const command of ["send", "receive", "request", "reply"]) {
      const r = await cli([command, "--help"], secretEnv);
      assert.equal(r.code, 0, r.stderr);
      assertNoSecret(r.stdout, `${command} --help`);
      for (const flag of ["--server", "--context", "--no-context", "--user", "--password", "--token", "--creds", "--nkey", "--tls-ca", "--tls-cert", "--tls-key", "--tls-first"]) {
        assert.match(r.stdout, new RegExp(`${flag}\\b`), `${command} --help: ${flag}`);
      }
      for (const name of [ENV_NATS_URL, ENV_NATS_CONTEXT, ENV_NATS_TOKEN, ENV_NATS_PASSWORD]) assert.ok(r.stdout.includes(`[env: ${name}`), `${command} --help names ${name}`);
      if (command !== "receive") assert.match(r.stdout, new RegExp(`--fileserver-token <TOKEN>.*\\[env: ${ENV_FILESERVER_TOKEN}\\]`));
    }
  } finally {
    rmSync(ctxHome, { recursive: true, force: true });
  }
});

test("a context.txt that exists but cannot be read is refused naming it; only a missing or empty one selects none", async () => {
  const root = mkdtempSync(join(tmpdir(), "nb-ts-selected-"));
  try {
    const env = { [ENV_XDG_CONFIG_HOME]: root };
    const selected = join(root, CONTEXT_SELECTED_FILE);
    assert.equal(resolveConnectSettings({}, env).context, null, "missing: none selected");
    mkdirSync(dirname(selected), { recursive: true });
    writeFileSync(selected, "");
    assert.equal(resolveConnectSettings({}, env).context, null, "empty: none selected");
    writeFileSync(selected, new Uint8Array([0x70, 0xff, 0xfe, 0x0a]));
    const notText = await refused(() => resolveConnectSettings({}, env), "INVALID_ARGUMENT", /cannot be read: it is not UTF-8 text/);
    assert.ok(notText.message.includes(selected), notText.message);
    rmSync(selected);
    mkdirSync(selected);
    const dir = await refused(() => resolveConnectSettings({}, env), "INVALID_ARGUMENT", /cannot be read/);
    assert.ok(dir.message.includes(selected), dir.message);
    rmSync(selected, { recursive: true });
    if (process.getuid?.() !== 0) {
      writeFileSync(selected, "prod\n", { mode: 0o000 });
      await refused(() => resolveConnectSettings({}, env), "INVALID_ARGUMENT", /cannot be read: EACCES/);
    }
    // --no-context reads none of it.
    assert.equal(resolveConnectSettings({ noContext: true }, env).context, null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("credential and TLS files are checked before connecting: INVALID_ARGUMENT naming the source, never text of the file", async () => {
  // No server listens on port 1: a connect attempt would be NATS_CONNECTION_FAILED.
  const server = "nats://127.0.0.1:1";
  const dir = mkdtempSync(join(tmpdir(), "nb-ts-files-"));
  try {
    const noBlocks = join(dir, "plain.creds");
    writeFileSync(noBlocks, "just text Zq85 and no blocks\n");
    const badSeed = join(dir, "bad-seed.creds");
    const jwtBlock = "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.sig\n------END NATS USER JWT------\n";
    writeFileSync(badSeed, `${jwtBlock}\n-----BEGIN USER NKEY SEED-----\nSUAZq85NOTASEED\n------END USER NKEY SEED------\n`);
    const badNkey = join(dir, "bad.nk");
    writeFileSync(badNkey, "SUAZq85NOTASEED\n");
    await withEnv({ ...CLEAN, [ENV_HOME]: home }, async () => {
      for (const [flags, pattern] of [
        [{ creds: join(dir, "missing.creds") }, /^--creds names .*missing\.creds, which cannot be read: ENOENT/],
        [{ creds: noBlocks }, /^--creds names .*plain\.creds, which is not a \.creds file/],
        [{ creds: badSeed }, /^--creds names .*bad-seed\.creds, whose seed block holds no NKey user seed \(a line starting SU\)/],
        [{ nkey: `file://${badNkey}` }, /^--nkey names .*bad\.nk, which holds no NKey user seed \(a line starting SU\)$/],
        [{ nkey: dir }, /^--nkey names .*, which cannot be read: EISDIR/],
        [{ tlsCa: join(dir, "ca.pem") }, /^--tls-ca names .*ca\.pem, which cannot be read: ENOENT/],
        [{ tlsCert: join(dir, "c.pem"), tlsKey: join(dir, "k.pem") }, /^--tls-cert names .*c\.pem, which cannot be read/],
      ] as [ConnectFlags, RegExp][]) {
        await refused(() => connectWith({ server, noContext: true, ...flags }), "INVALID_ARGUMENT", pattern);
      }
      await withEnv({ [ENV_NATS_CA]: join(dir, "env-ca.pem") }, () =>
        refused(() => connectTo(server), "INVALID_ARGUMENT", new RegExp(`^${ENV_NATS_CA} names .*env-ca\\.pem, which cannot be read`)),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an option holding a secret, of the wrong type, is reported by its type only", async () => {
  for (const [call, pattern] of [
    [() => resolveConnectSettings({ password: 81818 } as never, envOf()), /`password` of resolveConnectSettings must be a string, got a number$/],
    [() => resolveConnectSettings({ token: ["Zq85"] } as never, envOf()), /`token` of resolveConnectSettings must be a string, got an array$/],
    [() => connectTo("nats://127.0.0.1:1", { pass: 81818 } as never), /`pass` of connectTo must be a string, got a number$/],
    [() => connectTo("nats://127.0.0.1:1", { token: { secret: "Zq85" } } as never), /`token` of connectTo must be a string, got an object$/],
    [() => smartsend("s", [["n", "x", "text"]], { publish: false, fileserverToken: 81818 } as never), /`fileserverToken` of smartsend must be a string, got a number$/],
  ] as [() => unknown, RegExp][]) {
    const e = await refused(call, ERROR_BAD_OPTION, pattern);
    assert.ok(!e.report().includes("81818"), e.report());
  }
  // Other options still show what they were given.
  await refused(() => resolveConnectSettings({ user: 81818 } as never, envOf()), ERROR_BAD_OPTION, /got the number 81818/);
});

test("natsbridge-js: a connection flag given twice, a short or alias spelling are usage errors (exit 2); refused settings exit 1", async () => {
  const base = ["send", "--no-publish", "--subject", "s", "--payload", "n:text:hi"];
  for (const [args, code, message] of [
    [["--server", "nats://a:1", "--server", "nats://b:1"], 2, /--server cannot be given more than once/],
    [["--token", WRONG, "--token", WRONG], 2, /--token cannot be given more than once/],
    [["--tls-first", "--tls-first"], 2, /--tls-first cannot be given more than once/],
    [["--no-context", "--no-context"], 2, /--no-context cannot be given more than once/],
    [["--context", "", "--no-context"], 2, /--no-context cannot go with --context/],
    [["-s", "nats://a:1"], 2, /unknown flag -s/],
    [["--tlsca", "/ca.pem"], 2, /unknown flag --tlsca/],
    [["--creds", "file:"], 1, /INVALID_ARGUMENT: --creds: a `file:` reference needs a path/],
    [["--tls-cert", "/c.pem"], 1, /INVALID_ARGUMENT: --tls-cert needs a key too \(--tls-key, NATS_KEY or a context's key\)/],
  ] as [string[], number, RegExp][]) {
    const [node, argv] = cliArgs(...base, ...args);
    const r = await run(node, argv, { [ENV_HOME]: home });
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assertNoSecret(r.stdout + r.stderr, "the CLI's error");
  }
  // Blank values say nothing: a blank --token or --context, and --no-publish names the default's seeds.
  const [node, argv] = cliArgs(...base, "--token", " ", "--context", "", "--server", "TLS://H.example:4443");
  const r = await run(node, argv, { [ENV_HOME]: home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).broker_url, "tls://H.example:4443");
});

test("broker_url of an envelope not published: the seeds given, else those of the settings (environment and context), shown", async () => {
  await withEnv({ ...CLEAN, [ENV_HOME]: home, [ENV_NATS_URL]: `nats://u:${WRONG}@E.example:4222/?q=Zq85,f:2` }, async () => {
    const fromEnv = await smartsend("s", [["n", "x", "text"]], { publish: false });
    assert.equal(fromEnv.envelope.broker_url, "nats://E.example:4222/?REDACTED,nats://f:2");
    const given = await smartsend("s", [["n", "x", "text"]], { publish: false, connection: "WS://h:8080" });
    assert.equal(given.envelope.broker_url, "ws://h:8080");
  });
  await withEnv({ ...CLEAN, [ENV_HOME]: home }, async () => {
    const none = await smartsend("s", [["n", "x", "text"]], { publish: false });
    assert.equal(none.envelope.broker_url, "nats://localhost:4222");
  });
});
