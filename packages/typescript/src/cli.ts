#!/usr/bin/env node
/**
 * `natsbridge-js send|receive|request|reply`: the command-line contract of the Rust
 * `natsbridge` (the same flags, the same digest, envelope and error lines), so any two
 * implementations can be compared from a shell; `natsbridge-js COMMAND --help` lists a
 * command's flags. The commands live in `cli/`: the flags (`args.ts`), the envelope a send
 * builds (`envelope.ts`), `send` and `request` (`send.ts`), `receive` and `reply`
 * (`receive.ts`), what is printed and saved (`output.ts`), JetStream (`stream.ts`).
 *
 * Global: `--log-format text|json`, `--log-level LEVEL`, `-q/--quiet`. Usage errors exit 2;
 * other failures print `error: …` on stderr and exit 1 (a `request` that fails prints its
 * error line on stdout, exit 1).
 */
import { NatsBridgeError, jsonLogger, setLogger, type LogLevel } from "./node.js";
import { Failure, Flags, Usage, commandHelp, isCommand, mainHelp, type Command } from "./cli/args.js";
import { receive, reply } from "./cli/receive.js";
import { request, send } from "./cli/send.js";

const RUN: Record<Command, (flags: Flags) => Promise<number>> = { send, receive, request, reply };

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(mainHelp());
    return 0;
  }
  if (!isCommand(command)) {
    console.error(`${command === undefined ? "error: a command is required" : `error: unknown command \`${command}\``}\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const flags = Flags.parse(command, rest);
    if (flags.on("help")) {
      console.log(commandHelp(command));
      return 0;
    }
    const format = flags.opt("log-format") ?? "text";
    if (format !== "text" && format !== "json") throw new Usage(`--log-format \`${format}\` is not text or json`);
    // A level, or a Rust-style filter (`natsbridge=debug`: its last level); anything else is `warn`, as in Rust.
    const asked = (flags.opt("log-level") ?? "").split(/[=,]/).at(-1) ?? "";
    const level = LOG_LEVELS.find((l) => l === asked.toLowerCase()) ?? "warn";
    if (format === "json") setLogger(jsonLogger(level));
    return await RUN[command](flags);
  } catch (e) {
    if (e instanceof Usage) {
      console.error(`error: ${e.message}\n\nFor more information, try \`natsbridge-js ${command} --help\`.`);
      return 2;
    }
    console.error(`error: ${e instanceof NatsBridgeError ? e.report() : e instanceof Failure ? e.message : String(e)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
