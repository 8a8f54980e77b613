import { nodeCrypto } from "@pairkit/core/node";
import { loadConfig, openDatabase, verifyAuditChain } from "@pairkit/server";
import { EXIT } from "./exit-codes.ts";

/**
 * `pairkit audit verify`: walks the hash-chained audit log of the configured database
 * (`DATABASE_URL`, or the embedded PGlite directory) and reports the first broken link.
 */
export async function runAuditVerify(env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const config = loadConfig(env);
  const db = await openDatabase(config.database);
  try {
    const result = await verifyAuditChain(db, nodeCrypto);
    if (result.ok) {
      out.write(`audit chain intact: ${result.entries} entries, head ${result.headHash}\n`);
      return EXIT.OK;
    }
    out.write(`audit chain BROKEN at entry ${result.brokenAt} of ${result.entries}: ${result.reason}\n`);
    return EXIT.FAILURE;
  } finally {
    await db.destroy();
  }
}
