import { type Kysely, sql } from "kysely";
import { type Migration, Migrator } from "kysely/migration";
import { DatabaseError } from "./errors.ts";
import type { Database } from "./schema.ts";

/**
 * Schema migrations, the same SQL for PGlite and PostgreSQL. One statement per entry: PGlite's
 * extended-protocol queries take a single statement. Never edit a released migration; add one.
 */
const MIGRATIONS: Record<string, readonly string[]> = {
  "0001_initial": [
    `create table users (
      id text primary key,
      email text not null unique,
      display_name text not null,
      role text not null check (role in ('customer', 'agent', 'admin')),
      created_at timestamptz not null
    )`,
    `create table vehicles (
      id text primary key check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
      vin text not null unique,
      model text not null,
      identity_public_key bytea not null check (length(identity_public_key) = 65),
      policy_flags integer not null check (policy_flags between 0 and 255),
      mqtt_secret_hash text,
      verifier_seq integer not null default 0,
      created_at timestamptz not null
    )`,
    `create table ownerships (
      user_id text not null references users(id),
      vehicle_id text not null references vehicles(id),
      pin_hash text,
      pin_failures integer not null default 0 check (pin_failures >= 0),
      pin_locked_until timestamptz,
      since timestamptz not null,
      primary key (user_id, vehicle_id)
    )`,
    `create table subscriptions (
      user_id text not null references users(id),
      vehicle_id text not null references vehicles(id),
      product text not null,
      valid_until timestamptz not null,
      primary key (user_id, vehicle_id, product)
    )`,
    `create table pairing_sessions (
      session_id uuid primary key,
      user_id text not null references users(id),
      vehicle_id text not null references vehicles(id),
      status text not null check (status in ('provisioning', 'open', 'paired', 'failed', 'expired', 'superseded')),
      channel text not null check (channel in ('app', 'portal', 'hotline')),
      issued_at timestamptz not null,
      expires_at timestamptz not null,
      attempt_count integer not null default 0,
      max_attempts integer not null check (max_attempts > 0),
      scrypt_config jsonb not null,
      salt bytea not null,
      replace_existing boolean not null,
      device_info jsonb,
      failure_code text,
      check (attempt_count between 0 and max_attempts)
    )`,
    // At most one live session per vehicle: the vehicle holds one verifier at a time.
    `create unique index pairing_sessions_one_live_per_vehicle on pairing_sessions (vehicle_id)
      where status in ('provisioning', 'open')`,
    `create table pairing_transactions (
      transaction_id uuid primary key,
      session_id uuid not null references pairing_sessions(session_id),
      status text not null check (status in ('started', 'configured', 'attested', 'failed')),
      vehicle_public_key_hash text not null,
      policy_flags integer not null,
      device_nonce bytea not null check (length(device_nonce) = 16),
      point_x bytea not null check (length(point_x) = 65),
      server_nonce bytea not null,
      config_digest text,
      endpoint_hash text,
      created_at timestamptz not null
    )`,
    `create table digital_keys (
      key_id uuid primary key,
      vehicle_id text not null references vehicles(id),
      owner_user_id text not null references users(id),
      role text not null check (role in ('owner')),
      state text not null check (state in ('active', 'revoking', 'revoked')),
      key_material_hash text not null,
      endpoint_public_key bytea,
      transaction_id uuid not null unique references pairing_transactions(transaction_id),
      attested boolean not null default false,
      created_at timestamptz not null,
      revoked_at timestamptz
    )`,
    // One owner device per vehicle (seed 000), enforced by the database so replicas cannot race.
    `create unique index digital_keys_one_active_owner on digital_keys (vehicle_id)
      where role = 'owner' and state = 'active'`,
    `create table key_attestations (
      key_id uuid primary key references digital_keys(key_id),
      transaction_id uuid not null references pairing_transactions(transaction_id),
      signature bytea not null,
      issued_at timestamptz not null,
      verified boolean not null
    )`,
    `create table audit_log (
      seq integer primary key,
      at timestamptz not null,
      actor text not null,
      event text not null,
      vehicle_id text,
      session_id uuid,
      key_id uuid,
      detail jsonb not null,
      prev_hash text not null,
      hash text not null
    )`,
    // Vehicle events are applied once across replicas by looking up their eventId here.
    `create index audit_log_event_id on audit_log ((detail ->> 'eventId')) where detail ? 'eventId'`,
    `create table audit_head (
      id integer primary key check (id = 1),
      seq integer not null,
      hash text not null
    )`,
    `insert into audit_head (id, seq, hash) values (1, 0, '${"0".repeat(64)}')`,
    `create table portal_tokens (
      token_hash text primary key,
      user_id text not null references users(id),
      vehicle_id text not null references vehicles(id),
      channel text not null check (channel in ('portal', 'hotline')),
      agent_user_id text references users(id),
      replace_existing boolean not null,
      created_at timestamptz not null,
      expires_at timestamptz not null,
      redeemed_at timestamptz
    )`,
    `create table email_outbox (
      id uuid primary key,
      recipient text not null,
      subject text not null,
      body text not null,
      created_at timestamptz not null,
      sent_at timestamptz,
      attempts integer not null default 0
    )`,
    `create table verifier_deliveries (
      delivery_id uuid primary key,
      vehicle_id text not null references vehicles(id),
      kind text not null check (kind in ('provision', 'revoke')),
      session_id uuid references pairing_sessions(session_id),
      key_id uuid references digital_keys(key_id),
      status text not null check (status in ('pending', 'acked', 'rejected', 'timeout')),
      sent_at timestamptz not null,
      answered_at timestamptz
    )`,
    `create table rate_limits (
      bucket text primary key,
      window_start timestamptz not null,
      count integer not null
    )`,
  ],
  // Vehicle events are deduplicated by this index instead of by locking the audit head first: the
  // head is the last lock every transaction takes (docs/operations.md, "Transactions and lock order").
  "0002_unique_event_id": [
    `drop index audit_log_event_id`,
    `create unique index audit_log_event_id on audit_log ((detail ->> 'eventId')) where detail ? 'eventId'`,
  ],
  // The device's starts, counted apart from the attempts spent, so that a start and the vehicle's
  // report of the same attempt count once whichever reaches the server first.
  "0003_device_attempt_count": [
    `alter table pairing_sessions add column device_attempt_count integer not null default 0
      check (device_attempt_count between 0 and max_attempts)`,
  ],
};

/** `schema` pins Kysely's own bookkeeping tables; without it they are looked up across all schemas. */
export async function migrateToLatest(db: Kysely<Database>, schema: string): Promise<void> {
  const migrator = new Migrator({
    db,
    migrationTableSchema: schema,
    provider: {
      async getMigrations() {
        const migrations: Record<string, Migration> = {};
        for (const [name, statements] of Object.entries(MIGRATIONS)) {
          migrations[name] = {
            async up(tx) {
              for (const statement of statements) await sql.raw(statement).execute(tx);
            },
          };
        }
        return migrations;
      },
    },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "(before any migration)";
    throw new DatabaseError(`migration ${failed} failed`, { cause: error });
  }
}
