import { mkdirSync, writeFileSync } from "node:fs";
import { runBleBench } from "./ble.ts";
import { runCardBench } from "./card.ts";
import { runCryptoBench } from "./crypto.ts";
import { runMpcBench } from "./mpc.ts";
import { runPairingBench } from "./pairing.ts";

/** `npm run bench [-- --quick] [-- name…]`: runs the benchmarks, prints tables, writes bench/results/<name>.json. */
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.filter((a) => !a.startsWith("--"));
const benches: Record<string, () => Promise<unknown>> = {
  crypto: () => runCryptoBench({ quick }),
  ble: () => runBleBench({ quick }),
  pairing: () => runPairingBench({ quick }),
  card: () => runCardBench({ quick }),
  mpc: () => runMpcBench({ quick }),
};

const resultsDir = new URL("../results/", import.meta.url);
mkdirSync(resultsDir, { recursive: true });
for (const [name, run] of Object.entries(benches)) {
  if (only.length > 0 && !only.includes(name)) continue;
  console.log(`\n=== bench: ${name}${quick ? " (quick)" : ""}`);
  const result = await run();
  const file = new URL(`${name}.json`, resultsDir);
  writeFileSync(
    file,
    `${JSON.stringify({ bench: name, date: new Date().toISOString(), quick, ...(result as object) }, null, 2)}\n`,
  );
  console.log(`wrote ${file.pathname}`);
}
