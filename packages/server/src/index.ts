// The pairing backend (seeds 000/001): HTTP API, vehicle link, storage, audit.
export {
  AdminBootstrapError,
  bootstrapAdministrator,
  type FirstAdministrator,
} from "./admin/first-administrator.ts";
export { type BuildOptions, buildServer, REDACTED_PATHS } from "./app.ts";
export { type AuditEvent, type AuditVerification, appendAudit, verifyAuditChain } from "./audit/audit-log.ts";
export { type Env, loadConfig, type ServerConfig } from "./config.ts";
export { type Db, openDatabase } from "./db/database.ts";
export { DEMO } from "./db/demo-data.ts";
export { DatabaseInUseError } from "./db/server-lease.ts";
export { API_ERRORS, ApiError, type ApiErrorCode, ConfigError } from "./errors.ts";
export type { ConsoleOptions } from "./routes/console.ts";
export type { DevCard, DevFixtures } from "./routes/dev.ts";
export { type RunningServer, serve } from "./serve.ts";
export * from "./vehicle-link/messages.ts";
export {
  type VehicleEvent,
  VehicleLinkClient,
  type VehicleLinkClientOptions,
  type VehicleLinkHandlers,
} from "./vehicle-link/vehicle-link-client.ts";
