/**
 * The command line of `natsbridge-js`: each command's flags (the Rust `natsbridge`'s, by
 * name, meaning and default), parsed with Node's `util.parseArgs` (`--flag value`,
 * `--flag=value`, repeats), `--help` text, and typed access to the values. A usage error
 * (unknown flag, missing value, a value of the wrong form, a flag given twice that is not
 * repeatable, a flag that needs or excludes another) is a {@link Usage}: exit 2, as clap
 * exits; anything else that stops a command is exit 1 (connection settings refused too).
 */
import { parseArgs } from "node:util";
import {
  CLI_STREAM_MAX_AGE_SECONDS,
  DEFAULT_FILESERVER_URL,
  DEFAULT_MSG_PURPOSE,
  DEFAULT_NATS_URL,
  DEFAULT_SIZE_THRESHOLD,
  ENV_FILESERVER_TOKEN,
  ENV_FILESERVER_URL,
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
  ENV_SIZE_THRESHOLD,
  MSG_PURPOSE_VALUES,
} from "@natsbridge/types";

/** A usage error: exit 2. */
export class Usage extends Error {}
/** A failure that is not the runtime's (no error code): `error: …` on stderr, exit 1. */
export class Failure extends Error {}

export type Command = "send" | "receive" | "request" | "reply";

/** One flag: a value (`value` names it in the help) or a switch; maybe repeatable. */
interface Flag {
  name: string;
  /** The value's name in the help; absent for a switch. */
  value?: string;
  short?: string;
  repeat?: boolean;
  help: string;
  /** Shown as `[default: …]`: the built-in default, never an environment variable's value (it may be a secret). */
  shown?: () => string;
  /** Needs this other flag. */
  requires?: string;
  /** Cannot go with this other flag. */
  conflicts?: string;
}

const GLOBAL: Flag[] = [
  { name: "log-format", value: "LOG_FORMAT", help: "Log format on stderr: text (nothing is logged) or json (JSON records of the runtime's logger)", shown: () => "text" },
  { name: "log-level", value: "LOG_LEVEL", help: "Least level logged with --log-format json: debug, info, warn, error", shown: () => "warn" },
  { name: "quiet", short: "q", help: "No progress bars (natsbridge-js draws none; accepted for the same command lines)" },
  { name: "help", short: "h", help: "Print help" },
];

/**
 * Where and how every command connects to NATS: each setting from its flag, else its
 * environment variable, else the nats CLI's context in use, else the default (one resolver
 * with the library: `resolveConnectSettings`).
 */
const CONNECTION: Flag[] = [
  {
    name: "server",
    value: "SERVER",
    help: `NATS server URL, or a cluster's seeds separated by commas; user info (\`nats://user:password@host\`, \`nats://token@host\`) is sent as credentials [env: ${ENV_NATS_URL}; else the context's url]`,
    shown: () => DEFAULT_NATS_URL,
  },
  {
    name: "context",
    value: "CONTEXT",
    help: `The nats CLI's context to read settings from: a name (\`nats context ls\`) or the path of its .json file; default: the selected one (\`nats context select\`) [env: ${ENV_NATS_CONTEXT}]`,
  },
  { name: "no-context", help: "Read no nats CLI context, not even the selected one", conflicts: "context" },
  { name: "user", value: "USER", help: `User name, with --password [env: ${ENV_NATS_USER}]` },
  { name: "password", value: "PASSWORD", help: `Password of --user; prefer ${ENV_NATS_PASSWORD}: a command line is visible to other users [env: ${ENV_NATS_PASSWORD}]` },
  { name: "token", value: "TOKEN", help: `Authentication token; prefer ${ENV_NATS_TOKEN}: a command line is visible to other users [env: ${ENV_NATS_TOKEN}]` },
  { name: "creds", value: "FILE", help: `A .creds file: a user JWT and its NKey seed (operator mode, Synadia Cloud) [env: ${ENV_NATS_CREDS}]` },
  { name: "nkey", value: "FILE", help: `A file holding an NKey user seed (SU…) [env: ${ENV_NATS_NKEY}]` },
  { name: "tls-ca", value: "FILE", help: `PEM file of the certificate authorities to trust for the server, instead of the system's [env: ${ENV_NATS_CA}]` },
  { name: "tls-cert", value: "FILE", help: `PEM client certificate, with --tls-key, for a server that verifies clients [env: ${ENV_NATS_CERT}]` },
  { name: "tls-key", value: "FILE", help: `PEM private key of --tls-cert [env: ${ENV_NATS_KEY}]` },
  { name: "tls-first", help: "TLS handshake before the NATS protocol (a server configured with handshake_first)" },
];
const SUBJECT: Flag = { name: "subject", value: "SUBJECT", help: "The subject (required)" };
const PAYLOAD: Flag = { name: "payload", value: "NAME:TYPE:SOURCE", repeat: true, help: "A payload; SOURCE is literal text (or JSON) or @PATH. Repeatable" };
const FILESERVER: Flag = {
  name: "fileserver",
  value: "FILESERVER",
  help: `Plik-compatible file server for link payloads [env: ${ENV_FILESERVER_URL}]`,
  shown: () => DEFAULT_FILESERVER_URL,
};
const FILESERVER_TOKEN: Flag = {
  name: "fileserver-token",
  value: "TOKEN",
  help: `Token of a file server that asks one of uploads (\`natsbridge fileserver --token\`, a Plik account token); prefer ${ENV_FILESERVER_TOKEN} [env: ${ENV_FILESERVER_TOKEN}]`,
};

/** The envelope `send` and `request` build. */
const ENVELOPE: Flag[] = [
  ...CONNECTION,
  SUBJECT,
  PAYLOAD,
  { name: "from-stdin", value: "NAME:TYPE", help: "One more payload, read from standard input" },
  FILESERVER,
  FILESERVER_TOKEN,
  { name: "store", value: "STORE", help: "Where link payloads go: `plik` (the --fileserver) or `dir:PATH` (file:// links a receiver on this machine reads with --allow-dir)", shown: () => "plik" },
  { name: "threshold", value: "THRESHOLD", help: `Payloads of this many serialized bytes or more go by link [env: ${ENV_SIZE_THRESHOLD}]`, shown: () => String(DEFAULT_SIZE_THRESHOLD) },
  { name: "purpose", value: "PURPOSE", help: `msg_purpose: ${MSG_PURPOSE_VALUES.join(", ")}`, shown: () => DEFAULT_MSG_PURPOSE },
  { name: "correlation-id", value: "CORRELATION_ID", help: "A UUID; a new one when not given" },
  { name: "msg-id", value: "MSG_ID", help: "A UUID (also the message id header); a new one when not given" },
  { name: "sender-name", value: "SENDER_NAME", help: "sender_name" },
  { name: "sender-id", value: "SENDER_ID", help: "sender_id" },
  { name: "receiver-name", value: "RECEIVER_NAME", help: "receiver_name" },
  { name: "receiver-id", value: "RECEIVER_ID", help: "receiver_id" },
  { name: "reply-to", value: "REPLY_TO", help: "Where the receiver should answer (`request` sets its own inbox)" },
  { name: "reply-to-msg-id", value: "REPLY_TO_MSG_ID", help: "The msg_id this message answers" },
  { name: "metadata", value: "KEY=VALUE", repeat: true, help: "Envelope metadata entry; VALUE is JSON when it parses as JSON, else a string. Repeatable" },
  { name: "metadata-json", value: "JSON", help: "Envelope metadata as one JSON object (entries of --metadata are added to it)" },
  { name: "header", value: "K=V", repeat: true, help: "Extra NATS header. Repeatable" },
  { name: "one-shot", help: "Link downloads may happen once (the file server deletes the file after it)" },
  { name: "link-ttl", value: "SECS", help: "Lifetime asked for link uploads, in seconds" },
];

/** What to do with each received envelope besides its digest line. */
const OUTPUT: Flag[] = [
  { name: "allow-host", value: "ALLOW_HOSTS", repeat: true, help: "Also accept links to this host: an http(s) URL or origin (`http://files:8080`), or `*` for every host. Repeatable" },
  { name: "allow-dir", value: "ALLOW_DIRS", repeat: true, help: "Also accept file:// links under this directory. Repeatable" },
  { name: "show-header", value: "SHOW_HEADERS", repeat: true, help: 'Append `"headers": {NAME: value}` to each digest line for these NATS headers. Repeatable' },
  {
    name: "out",
    value: "DIR",
    help: "Write each payload into this directory, named after its dataname with the type's extension (`.arrows`, `.json`, `.txt`; the byte types keep the name's own, else `.bin`)",
  },
  { name: "envelope", help: "Print the envelope JSON on a line of its own after each digest line" },
];

/** Where and how long `receive` and `reply` listen. */
const LISTEN: Flag[] = [
  ...CONNECTION,
  SUBJECT,
  { name: "count", value: "COUNT", help: "Stop after this many envelopes (good or bad)" },
  { name: "timeout", value: "SECS", help: "Give up after this many seconds; exits 1 if fewer than --count arrived" },
  ...OUTPUT,
];

interface CommandSpec {
  about: string;
  example: string;
  flags: Flag[];
}

export const COMMANDS: Record<Command, CommandSpec> = {
  send: {
    about: "Publish one envelope and print its digest line (or, with --no-publish, its JSON).",
    example: "natsbridge-js send --subject demo --payload note:text:hi --payload table:arrowtable:@t.arrows",
    flags: [
      ...ENVELOPE,
      {
        name: "stream",
        value: "STREAM",
        help: "Publish through JetStream into this stream and wait for the ack (its stream sequence is printed on stderr); the stream is created for the subject when missing",
        conflicts: "no-publish",
      },
      { name: "max-age", value: "SECS", help: "With --stream, when it creates the stream: how long it keeps messages, in seconds", shown: () => String(CLI_STREAM_MAX_AGE_SECONDS), requires: "stream" },
      { name: "replicas", value: "N", help: "With --stream, when it creates the stream: copies kept on distinct servers of a cluster", shown: () => "1", requires: "stream" },
      { name: "no-publish", help: "Do not publish: print the envelope JSON instead of the digest line (links are still uploaded)" },
    ],
  },
  receive: {
    about: "Subscribe (or replay a stream) and print a digest line per envelope (an error line per bad one).",
    example: "natsbridge-js receive --subject health --stream HEALTH --since 10m --out ./got --count 5",
    flags: [
      ...LISTEN,
      { name: "stream", value: "STREAM", help: "Replay this JetStream stream through a pull consumer (filtered on the subject) instead of subscribing: from its start, or from --since" },
      {
        name: "since",
        value: "SINCE",
        help: "With --stream: where the replay starts: `all`, `new`, a stream sequence (`42`), a duration back from now (`90s`, `10m`, `1h30m`, `2d`) or an RFC 3339 time with its offset (`2026-11-30T08:00:00Z`)",
        requires: "stream",
      },
      {
        name: "durable",
        value: "DURABLE",
        help: "With --stream: a durable consumer of this name (a later run goes on where this one stopped) instead of an ephemeral one",
        requires: "stream",
      },
    ],
  },
  request: {
    about: "Send a request and print the reply's digest line (the responder's error line and exit 1 when it answers with an error_response_v1).",
    example: "natsbridge-js request --subject sim.command --payload 'config:dictionary:{\"iterations\":10}'",
    flags: [...ENVELOPE, { name: "timeout", value: "SECS", help: "How long to wait for the reply, in seconds", shown: () => "30" }, ...OUTPUT],
  },
  reply: {
    about: "Answer requests: print each one's digest line and reply with payloads (the request's own, echoed, by default) or, with --fail, an error_response_v1.",
    example: "natsbridge-js reply --subject sim.command --payload 'status:dictionary:{\"status\":\"Running\"}'",
    flags: [
      ...LISTEN,
      { ...PAYLOAD, help: "Answer with these payloads (NAME:TYPE:SOURCE, repeatable); without any, echo each request's payloads" },
      { name: "fail", value: "CODE[:MESSAGE]", help: "Answer every request with an error_response_v1 of this code instead (`CODE` or `CODE:message`, e.g. `TIMEOUT:the simulation is busy`)" },
      { name: "queue", value: "QUEUE", help: "Share the requests with other responders of this queue group" },
      { ...FILESERVER, help: `Plik-compatible file server for link payloads in the answers [env: ${ENV_FILESERVER_URL}]` },
      FILESERVER_TOKEN,
    ],
  },
};

export function isCommand(name: string | undefined): name is Command {
  return name !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, name);
}

/** The top-level usage. */
export function mainHelp(): string {
  const lines = [
    "Send and receive NATSBridge envelopes from the command line, with the contract of the Rust `natsbridge` (same flags, same lines)",
    "",
    "Usage: natsbridge-js <COMMAND> [OPTIONS]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)}${c.about}`),
    "",
    "Options:",
    "  -h, --help  Print help (`natsbridge-js <COMMAND> --help` for a command's flags)",
    "",
    "Connection settings: each from its flag, else its environment variable, else the nats CLI's context in use",
    `(--context, ${ENV_NATS_CONTEXT}, or the one \`nats context select\` chose), else the default; a credential is taken whole`,
    "from the first of these that gives one, and two kinds at once are refused.",
    "",
    `Environment: ${[
      ENV_NATS_URL,
      ENV_NATS_CONTEXT,
      ENV_NATS_USER,
      ENV_NATS_PASSWORD,
      ENV_NATS_TOKEN,
      ENV_NATS_CREDS,
      ENV_NATS_NKEY,
      ENV_NATS_CA,
      ENV_NATS_CERT,
      ENV_NATS_KEY,
      ENV_FILESERVER_URL,
      ENV_FILESERVER_TOKEN,
      ENV_SIZE_THRESHOLD,
    ].join(", ")}.`,
  ];
  return lines.join("\n");
}

/** `natsbridge-js COMMAND --help`: every flag with what it does and its default. */
export function commandHelp(command: Command): string {
  const spec = COMMANDS[command];
  const flags = [...spec.flags, ...GLOBAL];
  const left = (f: Flag) => `${f.short === undefined ? "    " : `-${f.short}, `}--${f.name}${f.value === undefined ? "" : ` <${f.value}>`}`;
  const width = Math.max(...flags.map((f) => left(f).length));
  const lines = [spec.about, "", `Example: \`${spec.example}\``, "", `Usage: natsbridge-js ${command} [OPTIONS] --subject <SUBJECT>`, "", "Options:"];
  for (const f of flags) {
    let shown = "";
    try {
      shown = f.shown === undefined ? "" : ` [default: ${f.shown()}]`;
    } catch {
      // An environment variable the runtime refuses: the command itself says why.
    }
    lines.push(`  ${left(f).padEnd(width)}  ${f.help}${shown}`);
  }
  return lines.join("\n");
}

/** The flags a command line gave: every value of each flag, in order; switches as present. */
export class Flags {
  private constructor(
    private readonly values: Map<string, string[]>,
    private readonly switches: Set<string>,
  ) {}

  /** Parses `args` for `command`; a {@link Usage} for anything the command does not take. */
  static parse(command: Command, args: string[]): Flags {
    const known = [...COMMANDS[command].flags, ...GLOBAL];
    const byName = new Map(known.map((f) => [f.name, f]));
    const { tokens } = parseArgs({
      args,
      options: Object.fromEntries(
        known.map((f) => [f.name, { type: f.value === undefined ? "boolean" : "string", multiple: true, ...(f.short === undefined ? {} : { short: f.short }) }] as const),
      ),
      // Non-strict, so that this command's own messages are kept: an unknown flag, a positional
      // argument or a flag without a value is a usage error naming it.
      strict: false,
      allowPositionals: true,
      tokens: true,
    });
    const values = new Map<string, string[]>();
    const switches = new Set<string>();
    for (const token of tokens) {
      if (token.kind === "positional") throw new Usage(`unexpected argument \`${token.value}\``);
      if (token.kind === "option-terminator") throw new Usage(`unexpected argument \`${args[token.index] ?? ""}\``);
      const flag = byName.get(token.name);
      if (flag === undefined || (!token.rawName.startsWith("--") && token.rawName !== `-${flag.short ?? ""}`)) {
        throw new Usage(`unknown flag ${token.rawName.startsWith("--") ? `--${token.name}` : token.rawName} for ${command}`);
      }
      if (flag.value === undefined) {
        if (token.value !== undefined) throw new Usage(`--${flag.name} takes no value`);
        if (switches.has(flag.name) && flag.name !== "help") throw new Usage(`--${flag.name} cannot be given more than once`);
        switches.add(flag.name);
        continue;
      }
      if (token.value === undefined) throw new Usage(`--${flag.name} needs a value`);
      const seen = values.get(flag.name) ?? [];
      if (seen.length > 0 && flag.repeat !== true) throw new Usage(`--${flag.name} cannot be given more than once`);
      values.set(flag.name, [...seen, token.value]);
    }
    const flags = new Flags(values, switches);
    if (switches.has("help")) return flags;
    for (const f of known) {
      if (!flags.given(f.name)) continue;
      if (f.requires !== undefined && !flags.given(f.requires)) throw new Usage(`--${f.name} needs --${f.requires}`);
      if (f.conflicts !== undefined && flags.given(f.conflicts)) throw new Usage(`--${f.name} cannot go with --${f.conflicts}`);
    }
    return flags;
  }

  /** Whether the flag was given (a value or a switch). */
  given(name: string): boolean {
    return this.values.has(name) || this.switches.has(name);
  }

  /** Whether the switch was given. */
  on(name: string): boolean {
    return this.switches.has(name);
  }

  /** The flag's (last) value, or `fallback`; a {@link Usage} when neither. */
  one(name: string, fallback?: () => string): string {
    const v = this.opt(name) ?? fallback?.();
    if (v === undefined) throw new Usage(`--${name} is required`);
    return v;
  }

  opt(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }

  many(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  /** The flag's value as a non-negative integer, `undefined` when not given. */
  count(name: string): number | undefined {
    const text = this.opt(name);
    if (text === undefined) return undefined;
    const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n)) throw new Usage(`--${name} must be a non-negative integer, got \`${text}\``);
    return n;
  }
}
