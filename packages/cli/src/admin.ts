import { nodeCrypto } from "@pairkit/core/node";
import {
  AdminBootstrapError,
  bootstrapAdministrator,
  ConfigError,
  type FirstAdministrator,
  loadConfig,
  openDatabase,
} from "@pairkit/server";
import { EXIT } from "./exit-codes.ts";

/**
 * `pairkit admin bootstrap`: creates the first administrator in the configured database
 * (`DATABASE_URL`, or the embedded PGlite directory), in production where demo data is refused
 * and `/admin/users` already needs an administrator. Refused (exit 1) once one exists.
 */
export async function runAdminBootstrap(
  env: NodeJS.ProcessEnv,
  admin: FirstAdministrator,
  out: NodeJS.WritableStream,
): Promise<number> {
  const config = loadConfig(env);
  const db = await openDatabase(config.database);
  try {
    await bootstrapAdministrator(db, nodeCrypto, admin, new Date());
    out.write(
      `administrator ${admin.id} created; tokens of your identity provider with sub "${admin.id}" now act as administrator\n`,
    );
    return EXIT.OK;
  } catch (error) {
    // A malformed id, e-mail or name is a usage error, like a bad flag.
    if (error instanceof AdminBootstrapError && error.code === "INVALID_ADMIN")
      throw new ConfigError("admin bootstrap", error.message);
    throw error;
  } finally {
    await db.destroy();
  }
}
