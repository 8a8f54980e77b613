#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { runCryptoDemo } from "./crypto-demo.ts";
import { EXIT, exitCodeFor } from "./exit-codes.ts";
import { runServe } from "./serve.ts";

/**
 * The `pairkit` command. Configuration comes from flags and the environment, read here at the
 * edge; errors end as one line on stderr and a documented exit code (exit-codes.ts).
 */
export function buildProgram(): Command {
  const program = new Command("pairkit")
    .description("Secure BLE pairing of digital keys: owner pairing (SPAKE2+) and Active Card pairing")
    .exitOverride()
    .showHelpAfterError();

  program
    .command("crypto-demo")
    .description("run one SPAKE2+ owner-pairing key agreement per crypto back-end, with timings")
    .action(() => runCryptoDemo(process.stdout));

  const serveCommand = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .option("--port <port>", "HTTP port (env PORT, default 8080)", parsePort)
      .option("--radio-port <port>", "WebSocket radio port (default 8081)", parsePort)
      .action((options: { port?: number; radioPort?: number }) =>
        runServe(process.env, options, process.stdout),
      );
  serveCommand("serve", "run the pairing backend, embedded broker and WebSocket radio on embedded defaults");
  serveCommand("start", "the main job on embedded defaults (same as serve)");

  return program;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError("not a port number");
  return port;
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    process.stderr.write(`pairkit: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodeFor(error);
  }
}

process.exitCode = await main(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["start"]);
