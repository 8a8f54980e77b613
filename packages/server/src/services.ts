import type { Clock, Crypto } from "@pairkit/core";
import type { Logger } from "pino";
import type { Authenticator, IdentityKeys } from "./auth/authenticator.ts";
import type { DevIssuer } from "./auth/dev-issuer.ts";
import type { ChangeFeed } from "./changes/change-feed.ts";
import type { ServerConfig } from "./config.ts";
import type { Db } from "./db/database.ts";
import type { KeyTrackingSigner } from "./kts/attestation.ts";
import type { Mailer } from "./mail/mailer.ts";
import type { Metrics } from "./metrics/metrics.ts";
import type { DerivationQueue } from "./pairing/derivation-queue.ts";
import type { OwnerPinChecks } from "./portal/owner-pin.ts";
import type { ServerVehicleLink } from "./vehicle-link/server-link.ts";

/** What route plugins and domain functions share; built once by buildServer. */
export interface Services {
  readonly config: ServerConfig;
  readonly db: Db;
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly log: Logger;
  readonly authenticate: Authenticator;
  /** The keys `authenticate` verifies with (`/readyz` checks they can be had). */
  readonly identityKeys: IdentityKeys;
  /** Present in development mode only. */
  readonly devIssuer: DevIssuer | undefined;
  readonly link: ServerVehicleLink;
  /** The broker URL vehicles connect to. */
  readonly mqttUrl: string;
  readonly derivation: DerivationQueue;
  /** Portal and hotline owner PIN checks (serialized per ownership in this process). */
  readonly pinChecks: OwnerPinChecks;
  readonly metrics: Metrics;
  readonly kts: KeyTrackingSigner;
  readonly mailer: Mailer;
  /** Committed changes of sessions, transactions, keys, attestations and the audit log. */
  readonly changes: ChangeFeed;
}
