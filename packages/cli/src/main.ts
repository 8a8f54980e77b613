#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { runAuditVerify } from "./audit.ts";
import { type CardOptions, runCard } from "./card.ts";
import { runCryptoDemo } from "./crypto-demo.ts";
import { EXIT, exitCodeFor } from "./exit-codes.ts";
import { runRadio } from "./radio.ts";
import { runServe } from "./serve.ts";

/**
 * The `pairkit` command. Configuration comes from flags and the environment, read here at the
 * edge; errors end as one line on stderr and a documented exit code (exit-codes.ts).
 */
export function buildProgram(setExitCode: (code: number) => void): Command {
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

  program
    .command("radio")
    .description("run the WebSocket radio (simulated BLE air, docs/radio.md) on its own")
    .option("--port <port>", "port", parsePort, 8081)
    .option("--host <host>", "interface", "127.0.0.1")
    .option("--interval <ms>", "BLE connection interval in ms", parsePort, 30)
    .action((o: { port: number; host: string; interval: number }) =>
      runRadio({ port: o.port, host: o.host, intervalMs: o.interval }, process.stdout),
    );

  program
    .command("card")
    .description("run the Active Card simulator on a WebSocket radio; shows its QR code")
    .requiredOption("--radio <url>", "WebSocket radio URL, e.g. ws://127.0.0.1:8081")
    .option("--state <file>", "the card's flash (identity key, paired phones)", "card-state.json")
    .option("--name <name>", "device name in the QR code", "AC-Card")
    .option("--owner <user>", "owner shown in the QR code", "")
    .option("--firmware <version>", "firmware version in the QR code", "1.0.0")
    .option("--qr-png <file>", "also write the QR code as PNG")
    .action((o: CardOptions) => runCard(o, process.stdout));

  program
    .command("audit")
    .description("audit log commands")
    .command("verify")
    .description("verify the hash chain of the audit log (DATABASE_URL or the embedded database)")
    .action(async () => setExitCode(await runAuditVerify(process.env, process.stdout)));

  return program;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError("not a port number");
  return port;
}

async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.OK;
  try {
    await buildProgram((c) => {
      code = c;
    }).parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    process.stderr.write(`pairkit: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodeFor(error);
  }
}

process.exitCode = await main(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["start"]);
