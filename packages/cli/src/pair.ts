import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { FrameTraceRecorder, openRadioCentral } from "@pairkit/ble";
import { toHex, utf8 } from "@pairkit/core";
import { type FileVaultSecret, nodeCrypto, openFileSecureElement } from "@pairkit/core/node";
import { ConfigError } from "@pairkit/server";
import { readArgumentFile } from "./args.ts";
import { EXIT } from "./exit-codes.ts";
import { CliPhone } from "./phone.ts";
import { eraseSupersededKeys } from "./phone-keys.ts";
import { ServerClient } from "./server-client.ts";

export interface PairOptions {
  readonly server: string;
  readonly radio: string;
  readonly vehicle: string;
  /** A seeded user to mint a development token for; otherwise PAIRKIT_TOKEN. */
  readonly user?: string;
  /** The phone's secure element file (encrypted at rest). */
  readonly store: string;
  readonly deviceId: string;
  readonly unlock: boolean;
  readonly replaceExisting: boolean;
  /** A carmaker root certificate (DER); otherwise the server's development trust anchors. */
  readonly trustAnchor?: string;
  /** Where to write the frame trace of this run. */
  readonly trace?: string;
  /** The ATT MTU the phone offers (docs/protocol.md §2.1). */
  readonly mtu: number;
}

/**
 * `pairkit pair`: the phone side against a running server and radio. Requests a pairing
 * password, pairs over the radio with the SDK, keeps the key in a file secure element, and
 * optionally unlocks. Prints progress and the key id — never the password or the token.
 */
export async function runPair(
  options: PairOptions,
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
): Promise<number> {
  const server = new ServerClient(options.server);
  const token = options.user ? await server.devToken(options.user) : env.PAIRKIT_TOKEN;
  if (!token) throw new ConfigError("--user / PAIRKIT_TOKEN", "give a user (development) or a token");
  const trustAnchors = options.trustAnchor
    ? [new Uint8Array(await readArgumentFile(options.trustAnchor, "--trust-anchor"))]
    : await server.trustAnchors();
  const secureElement = await openFileSecureElement({
    path: options.store,
    crypto: nodeCrypto,
    secret: await secureElementSecret(options.store, env),
  });
  const recorder = new FrameTraceRecorder({ label: `pairkit pair ${options.vehicle}` });
  const central = await openRadioCentral(options.radio, { mtu: options.mtu });
  try {
    const phone = new CliPhone({
      crypto: nodeCrypto,
      central: recorder.tapCentral(central),
      server,
      token,
      trustAnchors,
      ktsPublicKey: await server.ktsPublicKey(),
      secureElement,
      deviceId: utf8(options.deviceId),
    });
    const grant = await server.requestPassword(token, options.vehicle, options.replaceExisting);
    out.write(`pairing password issued (session ${grant.sessionId}, ${grant.maxAttempts} attempts)\n`);
    const paired = await phone.pair(options.vehicle, grant);
    if (!paired.ok) {
      const { phase, code, remainingAttempts } = paired.error;
      const left = remainingAttempts === undefined ? "" : ` (${remainingAttempts} attempts left)`;
      out.write(`pairing failed in phase ${phase}: ${code}${left}\n`);
      return EXIT.FAILURE;
    }
    const keyId = toHex(paired.key.keyId);
    out.write(
      `paired with ${options.vehicle}: key ${keyId}, attested ${paired.key.attested ? "yes" : "no"}\n`,
    );
    out.write(`key kept in ${options.store}\n`);
    for (const old of await eraseSupersededKeys(secureElement, options.vehicle, paired.key.keyId))
      out.write(`superseded key ${toHex(old.keyId)} erased from ${options.store}\n`);
    if (!options.unlock) return EXIT.OK;
    const unlocked = await phone.unlock(options.vehicle, paired.key.keyId);
    if (!unlocked.ok) {
      out.write(`unlock denied: ${unlocked.error.code}\n`);
      return EXIT.FAILURE;
    }
    out.write(`unlocked ${options.vehicle} (transaction ${unlocked.transactionId})\n`);
    return EXIT.OK;
  } finally {
    await central.close();
    if (options.trace) {
      await writeFile(options.trace, `${JSON.stringify(recorder.trace(), null, 2)}\n`);
      out.write(`frame trace written to ${options.trace} (pairkit trace ${options.trace})\n`);
    }
  }
}

/**
 * The file secure element's key: a passphrase from PAIRKIT_SE_PASSPHRASE, or else a key file of
 * 32 random bytes beside the store, created (mode 0600) on first use.
 */
export async function secureElementSecret(store: string, env: NodeJS.ProcessEnv): Promise<FileVaultSecret> {
  if (env.PAIRKIT_SE_PASSPHRASE) return { passphrase: env.PAIRKIT_SE_PASSPHRASE };
  const keyFile = `${store}.key`;
  try {
    await writeFile(keyFile, randomBytes(32), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return { keyFile };
}
