/**
 * NATS connection settings in Node (schema/README.md rule 17; the profile's `connection`
 * group; conformance op `connect_settings`), one rule for this library and `natsbridge-js`:
 * each setting from its flag, else its environment variable (the nats CLI's names:
 * `NATS_URL`, `NATS_TOKEN`, `NATS_CREDS`, …), else the nats CLI's context in use (ADR-21
 * files: `--context NAME|PATH.json`, `NATS_CONTEXT`, or the one `nats context select` chose),
 * else the default. Credentials are one unit: the first layer (flags and environment, then the
 * context) that has any gives them all; two kinds in one layer, a user without a password, a
 * client certificate without its key, a context that cannot be read or asks for what cannot
 * be honoured are INVALID_ARGUMENT naming every source involved, never a secret.
 *
 * {@link resolveConnectSettings} is pure but for reading the context files;
 * {@link connectWith} hands the settings to nats.js (TLS files, `tls://` requiring TLS,
 * handshake first, token, user and password, an NKey seed, a `.creds` file). Node only: the
 * browser takes `servers`, `token` and `user`/`pass` as `connectTo` options.
 */
import { readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { credsAuthenticator, nkeyAuthenticator, nkeys, type ConnectionOptions, type NatsConnection, type TlsOptions } from "@nats-io/nats-core";
import {
  CONTEXT_CONFIG_FALLBACK,
  CONTEXT_DIR,
  CONTEXT_FIELDS,
  CONTEXT_FILE_EXTENSION,
  CONTEXT_REFERENCE_SCHEMES,
  CONTEXT_SELECTED_FILE,
  CONTEXT_UNSUPPORTED,
  DEFAULT_NATS_URL,
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
  ERROR_CONNECT_SETTINGS,
} from "@natsbridge/types";
import { CONNECT_TO_OPTIONS, dial, type ConnectToOptions, type DialContext, type Opened, type UrlTarget } from "./config.js";
import { NatsBridgeError, withoutCredentials } from "./errors.js";
import { checkArgument, checkOptions, type OptionSpec } from "./options.js";
import { parseServers, shownServer, tlsScheme, type UrlCredential } from "./servers.js";

/**
 * What a caller (or a command line) gives; each setting is also read from its environment
 * variable and the nats CLI's context when not given here. An empty string counts as not given.
 */
export interface ConnectFlags {
  /** A NATS URL or a cluster's seeds separated by commas (`NATS_URL`); user info in it is a credential. */
  server?: string;
  /** The nats CLI's context to use: a name, or the path of a `.json` file (`NATS_CONTEXT`; default: the selected one). */
  context?: string;
  /** Use no context, not even the selected one. */
  noContext?: boolean;
  /** A user name (`NATS_USER`); needs `password`. */
  user?: string;
  /** The user's password (`NATS_PASSWORD`); a secret, never shown. */
  password?: string;
  /** An authentication token (`NATS_TOKEN`); a secret, never shown. */
  token?: string;
  /** The path of a `.creds` file: a user JWT and its NKey seed (`NATS_CREDS`). */
  creds?: string;
  /** The path of a file holding an NKey user seed (`NATS_NKEY`). */
  nkey?: string;
  /** A PEM file of the certificate authorities to trust instead of the system's (`NATS_CA`). */
  tlsCa?: string;
  /** A PEM client certificate (`NATS_CERT`); needs `tlsKey`. */
  tlsCert?: string;
  /** The client certificate's PEM private key (`NATS_KEY`). */
  tlsKey?: string;
  /** The TLS handshake before the NATS protocol (a server with `handshake_first`). */
  tlsFirst?: boolean;
}

/** Every key of {@link ConnectFlags} with its kind: unknown keys and wrong types are refused. */
export const CONNECT_FLAGS = {
  server: "string",
  context: "string",
  noContext: "boolean",
  user: "string",
  password: "string",
  token: "string",
  creds: "string",
  nkey: "string",
  tlsCa: "string",
  tlsCert: "string",
  tlsKey: "string",
  tlsFirst: "boolean",
} as const satisfies OptionSpec<ConnectFlags>;

/** The command-line flag (without `--`) of each {@link ConnectFlags} key: the name every CLI and message uses. */
export const CONNECT_FLAG_NAMES = {
  server: "server",
  context: "context",
  noContext: "no-context",
  user: "user",
  password: "password",
  token: "token",
  creds: "creds",
  nkey: "nkey",
  tlsCa: "tls-ca",
  tlsCert: "tls-cert",
  tlsKey: "tls-key",
  tlsFirst: "tls-first",
} as const satisfies { readonly [K in keyof ConnectFlags]-?: string };

/** The options of {@link connectWith}: nats.js's connection options but what the settings give. */
export type ConnectWithOptions = Omit<ConnectToOptions, "token" | "user" | "pass" | "authenticator" | "tls">;

const { token: _t, user: _u, pass: _p, authenticator: _a, tls: _s, ...CONNECT_WITH_SPEC } = CONNECT_TO_OPTIONS;
export const CONNECT_WITH_OPTIONS = CONNECT_WITH_SPEC satisfies OptionSpec<ConnectWithOptions>;

/** The kinds of credentials (`auth.kind`). */
export type AuthKind = "none" | "user_password" | "token" | "creds" | "nkey";

/** The credential settings hold: what it is and where it came from; never a secret's value. */
export interface ConnectAuth {
  readonly kind: AuthKind;
  /** `--token`, `NATS_CREDS`, `context 'prod' \`creds\``, `the user info of NATS_URL`; absent for `none`. */
  readonly source?: string;
  /** The user name (`user_password`). */
  readonly user?: string;
  /** The file (`creds`, `nkey`), `~` and `$VAR` expanded. */
  readonly path?: string;
  /** The file's content is embedded in the context (`data:;base64,…`, `nats context save --embed`). */
  readonly inline?: true;
}

/** The TLS settings: files (paths, not secrets), handshake first, and whether TLS is required. */
export interface ConnectTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly first: boolean;
  /** A `tls://` or `wss://` seed, a TLS file, or `first`: the connection fails rather than go unencrypted. */
  readonly required: boolean;
}

type StringSetting = "server" | "user" | "password" | "token" | "creds" | "nkey" | "tls-ca" | "tls-cert" | "tls-key";
type Layer = "explicit" | "context";

/** The environment variable of each setting (the nats CLI's names). */
const ENV_OF: Readonly<Record<StringSetting, string>> = {
  server: ENV_NATS_URL,
  user: ENV_NATS_USER,
  password: ENV_NATS_PASSWORD,
  token: ENV_NATS_TOKEN,
  creds: ENV_NATS_CREDS,
  nkey: ENV_NATS_NKEY,
  "tls-ca": ENV_NATS_CA,
  "tls-cert": ENV_NATS_CERT,
  "tls-key": ENV_NATS_KEY,
};

/** What the settings keep out of sight: secrets, and the sources messages name. */
interface Hidden {
  password?: string;
  token?: string;
  /** An embedded creds file or seed. */
  data?: Uint8Array;
  passwordSource?: string;
  authLayer?: Layer;
  tlsSources: { ca?: string; cert?: string; key?: string };
}

const HIDDEN = new WeakMap<ConnectSettings, Hidden>();

function hidden(settings: ConnectSettings): Hidden {
  const h = HIDDEN.get(settings);
  if (h === undefined) throw new NatsBridgeError(ERROR_CONNECT_SETTINGS, "connection settings must come from resolveConnectSettings");
  return h;
}

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/**
 * Resolved connection settings (immutable). Printing them (`String(s)`, `console.log(s)`,
 * `JSON.stringify(s)`) shows `servers=<seeds> auth=<kind> from <source> context=<name> tls`:
 * seeds without user info and with a query as `?REDACTED`, and never a password, token or
 * embedded credential.
 */
export class ConnectSettings {
  /** The seeds, each with a scheme, without user info. */
  readonly servers: readonly string[];
  /** `--server`, `NATS_URL`, `context 'prod' \`url\``, or `default`. */
  readonly serversSource: string;
  /** The nats CLI context in use, if any. */
  readonly context: string | null;
  readonly auth: ConnectAuth;
  readonly tls: ConnectTls;

  /** @internal Made by {@link resolveConnectSettings}. */
  constructor(parts: { servers: string[]; serversSource: string; context: string | null; auth: ConnectAuth; tls: ConnectTls }, secrets: Hidden) {
    this.servers = Object.freeze([...parts.servers]);
    this.serversSource = parts.serversSource;
    this.context = parts.context;
    this.auth = Object.freeze({ ...parts.auth });
    this.tls = Object.freeze({ ...parts.tls });
    HIDDEN.set(this, { ...secrets, tlsSources: { ...secrets.tlsSources } });
    Object.freeze(this);
  }

  /** The password of a `user_password` credential: a secret, never shown. */
  get password(): string | undefined {
    return hidden(this).password;
  }

  /** The token of a `token` credential: a secret, never shown. */
  get token(): string | undefined {
    return hidden(this).token;
  }

  /** `servers=nats://h:4222 auth=token from NATS_TOKEN context=prod tls`: no secret. */
  toString(): string {
    const auth = this.auth.kind === "none" ? "none" : `${this.auth.kind} from ${this.auth.source ?? ""}`;
    return `servers=${this.servers.map(shownServer).join(",")} auth=${auth}${this.context === null ? "" : ` context=${this.context}`}${this.tls.required ? " tls" : ""}`;
  }

  /** What `JSON.stringify` writes: the shown servers, the sources, no secret. */
  toJSON(): Record<string, unknown> {
    return { servers: this.servers.map(shownServer), serversSource: this.serversSource, context: this.context, auth: this.auth, tls: this.tls, shown: this.toString() };
  }

  [INSPECT](): string {
    return this.toString();
  }
}

function nonEmpty(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const v = env[name];
  return typeof v === "string" && v.trim() !== "" ? v : undefined;
}

/** A file system error in words (`ENOENT: no such file or directory, open '/x'`). */
function describeError(e: unknown): string {
  return withoutCredentials(e instanceof Error ? e.message : String(e));
}

function refuse(message: string): NatsBridgeError {
  return new NatsBridgeError(ERROR_CONNECT_SETTINGS, message);
}

/** A URI scheme of two characters or more (`op`, `file`, `data`; never a Windows drive letter). */
function schemeOf(text: string): string {
  return /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(text)?.[1]?.toLowerCase() ?? "";
}

/** `$VAR`, `${VAR}` (from `env`; unset: empty) and a leading `~` (ENV_HOME) expanded, as the nats CLI expands paths. */
function expandPath(path: string, env: Readonly<Record<string, string | undefined>>): string {
  const expanded = path.replace(/\$(\w+)|\$\{(\w+)\}/g, (_, a: string | undefined, b: string | undefined) => env[a ?? b ?? ""] ?? "");
  const home = nonEmpty(env, ENV_HOME);
  if (home !== undefined && (expanded === "~" || expanded.startsWith("~/"))) return home + expanded.slice(1);
  return expanded;
}

/** Schemes of secrets the nats CLI would resolve rather than send as written. */
function isReference(value: string): string | undefined {
  const s = schemeOf(value);
  if (s === "") return undefined;
  const rest = value.slice(s.length + 1);
  const known = Object.prototype.hasOwnProperty.call(CONTEXT_REFERENCE_SCHEMES, s);
  return known && (rest.startsWith("//") || s === "data") ? s : undefined;
}

/** A token or password as written; a reference the nats CLI would resolve is refused naming where it came from. */
function literal(value: string, where: string): string {
  const s = isReference(value);
  if (s !== undefined) {
    const what = (CONTEXT_REFERENCE_SCHEMES as Record<string, string>)[s] ?? "a reference";
    throw refuse(`${where} is ${what} (\`${s}:\`), which the nats CLI resolves with its helpers and NATSBridge does not; give the value itself`);
  }
  return value;
}

interface FileRef {
  path?: string;
  data?: Uint8Array;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The path of a `file:` reference: `file:` off, then `//` if present (`file:///k/x` and
 * `file:/k/x` are `/k/x`); nothing left is INVALID_ARGUMENT naming `where`.
 */
function filePath(ref: string, where: string): string {
  const rest = ref.slice(ref.indexOf(":") + 1);
  const path = rest.startsWith("//") ? rest.slice(2) : rest;
  if (path.trim() === "") throw refuse(`${where}: a \`file:\` reference needs a path`);
  return path;
}

/** `creds` or `nkey`: a path, `file:PATH` (`file:///k/x`, `file:/k/x`), or `data:;base64,…` (embedded by `nats context save --embed`). */
function fileRef(ref: string, where: string, env: Readonly<Record<string, string | undefined>>): FileRef {
  const s = schemeOf(ref);
  if (s === "") return { path: expandPath(ref, env) };
  if (s === "file") return { path: expandPath(filePath(ref, where), env) };
  if (s === "data") {
    const comma = ref.indexOf(",");
    const head = ref.slice("data:".length, comma < 0 ? ref.length : comma);
    const payload = comma < 0 ? "" : ref.slice(comma + 1).trim();
    if (!head.split(";").map((p) => p.trim()).includes("base64")) throw refuse(`${where}: a \`data:\` value must be \`data:;base64,…\``);
    if (!BASE64.test(payload) || payload.length % 4 === 1) throw refuse(`${where}: the \`data:\` value is not base64`);
    return { data: new Uint8Array(Buffer.from(payload, "base64")) };
  }
  const what = (CONTEXT_REFERENCE_SCHEMES as Record<string, string>)[s];
  throw refuse(`${where} is ${what ?? `a \`${s}:\` reference`}, which the nats CLI resolves with its helpers and NATSBridge does not; give a file path`);
}

interface LoadedContext {
  name: string;
  path: string;
  data: Record<string, unknown>;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The file's text; `undefined` only when it does not exist; INVALID_ARGUMENT naming it when it
 * cannot be read (a directory, no permission) or is not UTF-8 text.
 */
function readText(path: string, what: string): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return undefined;
    throw refuse(`${what} (${path}) cannot be read: ${describeError(e)}`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw refuse(`${what} (${path}) cannot be read: it is not UTF-8 text`);
  }
}

/** `$XDG_CONFIG_HOME`, else `$HOME/.config`; `undefined` when neither is set. */
function configRoot(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const xdg = nonEmpty(env, ENV_XDG_CONFIG_HOME);
  if (xdg !== undefined) return xdg;
  const home = nonEmpty(env, ENV_HOME);
  return home === undefined ? undefined : join(home, CONTEXT_CONFIG_FALLBACK);
}

/** jsm.go's ValidateName: not empty, no `..`, `/` or `\`. */
function validName(name: string): boolean {
  return name !== "" && !name.includes("..") && !name.includes("/") && !name.includes("\\");
}

/** The context in use: `--context` (a name or a `.json` file), else NATS_CONTEXT, else the selected one, else none. */
function loadContext(given: Given, env: Readonly<Record<string, string | undefined>>): LoadedContext | undefined {
  if (given.noContext) return undefined;
  // A blank --context says nothing: NATS_CONTEXT, else the selected one.
  let named = given.values.context?.trim() === "" ? undefined : given.values.context;
  let where = given.labels.context ?? "--context";
  if (named === undefined) {
    named = nonEmpty(env, ENV_NATS_CONTEXT);
    where = ENV_NATS_CONTEXT;
  }
  let path: string;
  let name: string;
  if (named !== undefined && named.endsWith(CONTEXT_FILE_EXTENSION) && isFile(named)) {
    path = named;
    name = basename(named).slice(0, -CONTEXT_FILE_EXTENSION.length);
  } else {
    const root = configRoot(env);
    if (named === undefined) {
      if (root === undefined) return undefined; // nowhere to look: nothing selected
      const selected = join(root, CONTEXT_SELECTED_FILE);
      named = (readText(selected, "the selected context's file") ?? "").trim();
      if (named === "") return undefined;
      where = selected;
    }
    if (!validName(named)) {
      const file = named.endsWith(CONTEXT_FILE_EXTENSION) ? "neither an existing file nor " : "not ";
      throw refuse(`${where}: ${JSON.stringify(named)} is ${file}a context name (a name is not empty and holds no \`..\`, \`/\` or \`\\\`)`);
    }
    if (root === undefined) throw refuse(`${where}: the nats CLI context '${named}' cannot be found: neither ${ENV_XDG_CONFIG_HOME} nor ${ENV_HOME} is set`);
    path = join(root, CONTEXT_DIR, `${named}${CONTEXT_FILE_EXTENSION}`);
    name = named;
    if (!isFile(path)) throw refuse(`${where}: the nats CLI context '${named}' does not exist (${path})`);
  }
  const text = readText(path, `context '${name}'`);
  if (text === undefined) throw refuse(`${where}: the nats CLI context '${name}' does not exist (${path})`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw refuse(`context '${name}' (${path}) is not JSON`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw refuse(`context '${name}' (${path}) is not a JSON object`);
  const fields = data as Record<string, unknown>;
  for (const [setting, field] of Object.entries(CONTEXT_FIELDS)) {
    const v = fields[field];
    if (v === undefined || v === null) continue;
    const want = setting === "tls-first" ? "boolean" : "string";
    if (typeof v !== want) throw refuse(`context '${name}' (${path}): \`${field}\` must be a ${want}, got ${Array.isArray(v) ? "an array" : typeof v}`);
  }
  for (const [field, what] of Object.entries(CONTEXT_UNSUPPORTED)) {
    const v = fields[field];
    // Set: a non-blank string, `true`, any other value; `false`, `null` and `""` are not.
    if (v !== undefined && v !== null && v !== false && !(typeof v === "string" && v.trim() === "")) {
      throw refuse(`context '${name}' (${path}) sets \`${field}\` (${what}), which NATSBridge cannot honour; remove it, or give the credentials as a .creds file (\`creds\`)`);
    }
  }
  return { name, path, data: fields };
}

/** What was given, by setting (the CLI flag names), and what to call each in messages. */
interface Given {
  values: Partial<Record<StringSetting | "context", string>>;
  noContext: boolean;
  tlsFirst: boolean;
  labels: Partial<Record<StringSetting | "context", string>>;
}

interface Picked {
  value: string;
  source: string;
  layer: Layer | "default";
}

/** The order messages name credential kinds in. */
const KIND_ORDER: readonly AuthKind[] = ["user_password", "token", "creds", "nkey"];

interface Kind {
  kind: Exclude<AuthKind, "none">;
  sources: string[];
  user?: string;
  password?: string;
  token?: string;
  ref?: FileRef;
}

function resolveGiven(given: Given, env: Readonly<Record<string, string | undefined>>): ConnectSettings {
  const ctx = loadContext(given, env);
  const flagOf = (s: StringSetting): Picked | undefined => {
    const v = given.values[s];
    return v === undefined || v.trim() === "" ? undefined : { value: v, source: given.labels[s] ?? `--${s}`, layer: "explicit" };
  };
  const envOf = (s: StringSetting): Picked | undefined => {
    const v = nonEmpty(env, ENV_OF[s]);
    return v === undefined ? undefined : { value: v, source: ENV_OF[s], layer: "explicit" };
  };
  const ctxOf = (s: StringSetting): Picked | undefined => {
    if (ctx === undefined) return undefined;
    const field = CONTEXT_FIELDS[s];
    const v = ctx.data[field];
    return typeof v === "string" && v.trim() !== "" ? { value: v, source: `context '${ctx.name}' \`${field}\``, layer: "context" } : undefined;
  };
  const pick = (s: StringSetting): Picked | undefined => flagOf(s) ?? envOf(s) ?? ctxOf(s);

  // Servers: flag > env > context > default, and the user info the first seed carries.
  const server = pick("server") ?? { value: DEFAULT_NATS_URL, source: "default", layer: "default" as const };
  const { seeds, credential } = parseServers(server.value, server.source);

  // Credentials, as one unit: the explicit layer (flags over env, field by field), else the context's.
  const kinds = (layer: Layer): Kind[] => {
    const val = (s: StringSetting) => (layer === "explicit" ? (flagOf(s) ?? envOf(s)) : ctxOf(s));
    const out: Kind[] = [];
    const user = val("user");
    const password = val("password");
    if (user !== undefined || password !== undefined) {
      if (password === undefined) throw refuse(`${user!.source} needs a password too (--password or ${ENV_NATS_PASSWORD}); a token goes in --token / ${ENV_NATS_TOKEN}`);
      if (user === undefined) throw refuse(`${password.source} needs a user too (--user or ${ENV_NATS_USER})`);
      out.push({ kind: "user_password", sources: [user.source, password.source], user: literal(user.value, user.source), password: literal(password.value, password.source) });
    }
    const token = val("token");
    if (token !== undefined) out.push({ kind: "token", sources: [token.source], token: literal(token.value, token.source) });
    for (const k of ["creds", "nkey"] as const) {
      const v = val(k);
      if (v !== undefined) out.push({ kind: k, sources: [v.source], ref: fileRef(v.value, v.source, env) });
    }
    if (credential !== undefined && server.layer === layer) out.push(fromUrl(credential, `the user info of ${server.source}`));
    if (out.length > 1) {
      // Every kind, in the order of KIND_ORDER, each with all its sources.
      const named = [...out].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind)).map((k) => `${k.kind} (${k.sources.join(", ")})`);
      throw refuse(`two kinds of credentials: ${named.slice(0, -1).join(", ")} and ${named.at(-1) ?? ""}; give one`);
    }
    return out;
  };
  const explicit = kinds("explicit");
  const chosenLayer: Layer = explicit.length > 0 ? "explicit" : "context";
  const chosen = explicit[0] ?? kinds("context")[0];

  const secrets: Hidden = { tlsSources: {} };
  let auth: ConnectAuth = { kind: "none" };
  if (chosen !== undefined) {
    const source = chosen.sources[0] ?? "";
    secrets.authLayer = chosenLayer;
    switch (chosen.kind) {
      case "user_password":
        auth = { kind: chosen.kind, source, user: chosen.user ?? "" };
        secrets.password = chosen.password ?? "";
        secrets.passwordSource = chosen.sources[1] ?? source;
        break;
      case "token":
        auth = { kind: chosen.kind, source };
        secrets.token = chosen.token ?? "";
        break;
      default:
        if (chosen.ref?.data !== undefined) {
          auth = { kind: chosen.kind, source, inline: true };
          secrets.data = chosen.ref.data;
        } else {
          auth = { kind: chosen.kind, source, path: chosen.ref?.path ?? "" };
        }
    }
  }

  // TLS: each file on its own (flag > env > context), paths only.
  const tls: { ca?: string; cert?: string; key?: string } = {};
  for (const [s, key] of [["tls-ca", "ca"], ["tls-cert", "cert"], ["tls-key", "key"]] as const) {
    const v = pick(s);
    if (v === undefined) continue;
    const scheme = schemeOf(v.value);
    if (scheme !== "" && scheme !== "file") throw refuse(`${v.source}: a TLS file is a path (or a file: path), not a \`${scheme}:\` reference`);
    tls[key] = expandPath(scheme === "file" ? filePath(v.value, v.source) : v.value, env);
    secrets.tlsSources[key] = v.source;
  }
  if (tls.cert !== undefined && tls.key === undefined) {
    throw refuse(`${secrets.tlsSources.cert ?? ""} needs a key too (--${CONNECT_FLAG_NAMES.tlsKey}, ${ENV_NATS_KEY} or a context's ${CONTEXT_FIELDS["tls-key"]})`);
  }
  if (tls.key !== undefined && tls.cert === undefined) {
    throw refuse(`${secrets.tlsSources.key ?? ""} needs a certificate too (--${CONNECT_FLAG_NAMES.tlsCert}, ${ENV_NATS_CERT} or a context's ${CONTEXT_FIELDS["tls-cert"]})`);
  }
  const first = given.tlsFirst || (ctx !== undefined && ctx.data[CONTEXT_FIELDS["tls-first"]] === true);
  const required = first || Object.keys(tls).length > 0 || seeds.some(tlsScheme);

  return new ConnectSettings(
    { servers: seeds, serversSource: server.source, context: ctx?.name ?? null, auth, tls: { ...tls, first, required } },
    secrets,
  );
}

function fromUrl(credential: UrlCredential, source: string): Kind {
  return credential.kind === "token"
    ? { kind: "token", sources: [source], token: credential.token }
    : { kind: "user_password", sources: [source], user: credential.user, password: credential.password };
}

function givenOf(flags: ConnectFlags, labels: Given["labels"] = {}): Given {
  const values: Given["values"] = {};
  for (const [key, name] of Object.entries(CONNECT_FLAG_NAMES)) {
    const v = flags[key as keyof ConnectFlags];
    if (typeof v === "string") values[name as StringSetting | "context"] = v;
  }
  return { values, noContext: flags.noContext === true, tlsFirst: flags.tlsFirst === true, labels };
}

function processEnv(): Record<string, string | undefined> {
  return process.env;
}

/**
 * The connection settings `flags` give, with `env` (default: the process environment) and
 * the nats CLI's context in use: flag > environment variable > context > default, each
 * setting on its own, credentials as one unit. INVALID_ARGUMENT (ERROR_CONNECT_SETTINGS) for
 * settings that cannot be used as given, naming every source involved and no secret.
 */
export function resolveConnectSettings(flags: ConnectFlags = {}, env: Readonly<Record<string, string | undefined>> = processEnv()): ConnectSettings {
  checkOptions(flags, CONNECT_FLAGS, "resolveConnectSettings");
  checkArgument(env, "object", "env", "resolveConnectSettings");
  return resolveGiven(givenOf(flags), env);
}

/**
 * A credential or TLS file of the settings, read before connecting: INVALID_ARGUMENT naming
 * the setting it came from when it cannot be (`--creds names /k/u.creds, which cannot be read: …`).
 */
function readSettingsFile(path: string, source: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw refuse(`${source} names ${path}, which cannot be read: ${describeError(e)}`);
  }
}

/** The blocks of a `.creds` file (a user JWT, then its NKey seed), as nats.js's `credsAuthenticator` finds them. */
const CREDS_BLOCK = /\s*(?:(?:[-]{3,}[^\n]*[-]{3,}\n)(.+)(?:\n\s*[-]{3,}[^\n]*[-]{3,}\n))/gi;

/** Whether `text` (trimmed) is an NKey user seed (`SU…`) nkeys can read. */
function isUserSeed(text: string): boolean {
  const seed = text.trim();
  if (!seed.startsWith("SU")) return false;
  try {
    nkeys.fromSeed(new TextEncoder().encode(seed));
    return true;
  } catch {
    return false;
  }
}

/**
 * The bytes of the settings' creds or NKey seed (a file read now, or embedded), checked before
 * connecting: INVALID_ARGUMENT naming the source, with a fixed message (never text of the file).
 */
function credentialBytes(auth: ConnectAuth, data: Uint8Array | undefined): Uint8Array {
  const source = auth.source ?? "";
  const bytes = data ?? readSettingsFile(auth.path ?? "", source);
  const what = data === undefined ? `${source} names ${auth.path ?? ""}` : `${source} embeds data`;
  const text = new TextDecoder().decode(bytes);
  if (auth.kind === "nkey") {
    if (!isUserSeed(text)) throw refuse(`${what}, which holds no NKey user seed (a line starting SU)`);
    return new TextEncoder().encode(text.trim()); // a seed file ends with a newline: nkeys refuses it untrimmed
  }
  const blocks = new RegExp(CREDS_BLOCK.source, CREDS_BLOCK.flags);
  const jwt = blocks.exec(text);
  const seed = jwt === null ? null : blocks.exec(text);
  if (jwt === null || seed === null) {
    throw refuse(`${what}, which is not a .creds file (a -----BEGIN NATS USER JWT----- block, then a -----BEGIN USER NKEY SEED----- block)`);
  }
  if (!isUserSeed(seed[1] ?? "")) throw refuse(`${what}, whose seed block holds no NKey user seed (a line starting SU)`);
  return bytes;
}

/** What a connect error says the server was sent: `the token from --token`; never a value. */
function credentialsSent(settings: ConnectSettings): string {
  const a = settings.auth;
  const h = hidden(settings);
  switch (a.kind) {
    case "none":
      return "a connection without credentials (no flag, environment variable or context gave any)";
    case "token":
      return `the token from ${a.source ?? ""}`;
    case "user_password":
      return `user '${a.user ?? ""}' and its password from ${a.source ?? ""}${h.passwordSource !== undefined && h.passwordSource !== a.source ? ` and ${h.passwordSource}` : ""}`;
    case "creds":
      return a.inline === true ? `the creds embedded in ${a.source ?? ""}` : `the creds file ${a.path ?? ""} from ${a.source ?? ""}`;
    case "nkey":
      return a.inline === true ? `the NKey seed embedded in ${a.source ?? ""}` : `the NKey seed file ${a.path ?? ""} from ${a.source ?? ""}`;
  }
}

/** Where the servers came from, for a connect error. */
function serversPhrase(settings: ConnectSettings): string {
  return settings.serversSource === "default"
    ? `the NATS URL is the default ${DEFAULT_NATS_URL}: ${ENV_NATS_URL} is unset and no context gives one`
    : `the NATS URL comes from ${settings.serversSource}`;
}

/**
 * Connects with `settings`: nats.js gets the seeds without user info, the credential
 * (`user`/`pass`, `token`, an NKey or creds authenticator), and TLS (`caFile` replacing the
 * system roots, `certFile`/`keyFile`, `handshakeFirst`; required for `tls://`). `extra` is the
 * caller's other nats.js options; its `authenticator` or `tls` (from `connectTo`) replace or
 * complete the settings' own.
 */
async function connectSettings(settings: ConnectSettings, extra: ConnectToOptions, where: string, pass: string): Promise<NatsConnection> {
  const h = hidden(settings);
  const { tls: extraTls, authenticator, ...rest } = extra;
  const options: ConnectionOptions = { ...rest, servers: [...settings.servers] };
  let sent = credentialsSent(settings);
  if (authenticator !== undefined) {
    if (settings.auth.kind !== "none" && h.authLayer === "explicit") {
      throw refuse(`two kinds of credentials: option \`authenticator\` of ${where} and ${settings.auth.kind} (${settings.auth.source ?? ""}); give one`);
    }
    options.authenticator = authenticator;
    sent = `the credentials of option \`authenticator\` of ${where}`;
  } else {
    const a = settings.auth;
    switch (a.kind) {
      case "user_password":
        options.user = a.user ?? "";
        options.pass = h.password ?? "";
        break;
      case "token":
        options.token = h.token ?? "";
        break;
      case "creds":
        options.authenticator = credsAuthenticator(credentialBytes(a, h.data));
        break;
      case "nkey":
        options.authenticator = nkeyAuthenticator(credentialBytes(a, h.data));
        break;
      case "none":
        break;
    }
  }
  const t = settings.tls;
  // The TLS files, checked before connecting (nats.js reads them itself when it connects).
  for (const key of ["ca", "cert", "key"] as const) {
    const path = t[key];
    if (path !== undefined) readSettingsFile(path, h.tlsSources[key] ?? "");
  }
  if (extraTls === null) {
    if (t.required) throw refuse(`option \`tls\` of ${where} is null (no TLS) but the settings require TLS (${settings.toString()})`);
    options.tls = null;
  } else if (t.required || extraTls !== undefined) {
    const own: TlsOptions = {
      ...(t.ca === undefined ? {} : { caFile: t.ca }),
      ...(t.cert === undefined ? {} : { certFile: t.cert }),
      ...(t.key === undefined ? {} : { keyFile: t.key }),
      ...(t.first ? { handshakeFirst: true } : {}),
    };
    options.tls = { ...own, ...extraTls };
  }
  const context: DialContext = {
    source: serversPhrase(settings),
    pass,
    credentials: sent,
    ...(t.ca === undefined ? {} : { trust: `the CA file ${t.ca} from ${h.tlsSources.ca ?? ""}` }),
  };
  return dial(options, context);
}

/**
 * Connects with the settings `flags` give (or settings already resolved), read as
 * {@link resolveConnectSettings} reads them from the process environment and the nats CLI's
 * context; `options` are nats.js's others (`name`, `timeout`, …). INVALID_ARGUMENT for
 * settings that cannot be used, and before connecting for a credential or TLS file that cannot
 * be read or holds no credential (naming the setting, never the file's text); NATS_CONNECTION_FAILED naming the servers (without user
 * info), the reason, and on an authorization failure which credential was sent and where it
 * came from (`the token from --token`), never its value.
 */
export async function connectWith(flags: ConnectFlags | ConnectSettings = {}, options: ConnectWithOptions = {}): Promise<NatsConnection> {
  checkOptions(options, CONNECT_WITH_OPTIONS, "connectWith");
  const settings = flags instanceof ConnectSettings ? flags : resolveConnectSettings(flags);
  return connectSettings(settings, options, "connectWith", `give another server (\`--server\`, ${ENV_NATS_URL} or a context)`);
}

/**
 * How a call given a URL (or none) connects in Node: the URL is the `server` setting (named
 * as the caller gave it), a `token`, `user` or `pass` option is its flag, and the rest comes
 * from the environment and the context in use.
 */
export async function openWithSettings(target: UrlTarget, options: ConnectToOptions): Promise<Opened> {
  const flags: ConnectFlags = {};
  const labels: Given["labels"] = {};
  if (target.url !== undefined) {
    flags.server = target.url;
    labels.server = target.label;
  }
  const { token, user, pass, ...rest } = options;
  if (token !== undefined) [flags.token, labels.token] = [token, `option \`token\` of ${target.where}`];
  if (user !== undefined) [flags.user, labels.user] = [user, `option \`user\` of ${target.where}`];
  if (pass !== undefined) [flags.password, labels.password] = [pass, `option \`pass\` of ${target.where}`];
  const settings = resolveGiven(givenOf(flags, labels), processEnv());
  const nc = await connectSettings(settings, rest, target.where, target.pass);
  return { nc, brokerUrl: shownServer(settings.servers[0] ?? DEFAULT_NATS_URL) };
}

/**
 * The seeds a call given `url` (or none) connects to in Node: those of the settings, `url` as
 * the server flag, else the environment's and the nats CLI context's (an envelope's
 * `broker_url` when it is not published).
 */
export function settingsSeeds(url: string | undefined): readonly string[] {
  return resolveGiven(givenOf(url === undefined ? {} : { server: url }), processEnv()).servers;
}
