#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { runCryptoDemo } from "./crypto-demo.ts";
import { EXIT, exitCodeFor } from "./exit-codes.ts";

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

  // Until `serve` exists, `start` is the crypto demonstration and says exactly that.
  program
    .command("start")
    .description("the main job on embedded defaults (today: the crypto demonstration)")
    .action(() => runCryptoDemo(process.stdout));

  return program;
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
