#!/usr/bin/env node
import { runCryptoDemo } from "./crypto-demo.ts";

// Until the server exists (issue 5/7), `pairkit start` runs the crypto demonstration: it does
// exactly what it prints and nothing more.
const command = process.argv[2] ?? "start";
if (command === "start" || command === "crypto-demo") {
  await runCryptoDemo(process.stdout);
} else {
  process.stderr.write(`pairkit: unknown command '${command}' (try: start)\n`);
  process.exitCode = 2;
}
