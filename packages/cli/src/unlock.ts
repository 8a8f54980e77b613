import { openRadioCentral } from "@pairkit/ble";
import { toHex } from "@pairkit/core";
import { nodeCrypto, openFileSecureElement } from "@pairkit/core/node";
import { readArgumentFile } from "./args.ts";
import { EXIT } from "./exit-codes.ts";
import { secureElementSecret } from "./pair.ts";
import { unlockVehicle } from "./phone.ts";
import { currentKeyFor } from "./phone-keys.ts";
import { ServerClient } from "./server-client.ts";

export interface UnlockOptions {
  readonly server: string;
  readonly radio: string;
  readonly vehicle: string;
  /** The phone's secure element file that `pairkit pair` filled. */
  readonly store: string;
  /** A carmaker root certificate (DER); otherwise the server's development trust anchors. */
  readonly trustAnchor?: string;
  /** The ATT MTU the phone offers (docs/protocol.md §2.1). */
  readonly mtu: number;
}

/**
 * `pairkit unlock`: the standard transaction with the key `pairkit pair` kept for this vehicle —
 * no server call but the development trust anchors (skipped with --trust-anchor).
 */
export async function runUnlock(
  options: UnlockOptions,
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
): Promise<number> {
  const secureElement = await openFileSecureElement({
    path: options.store,
    crypto: nodeCrypto,
    secret: await secureElementSecret(options.store, env),
  });
  const endpoint = await currentKeyFor(secureElement, options.vehicle);
  if (!endpoint) {
    out.write(`no key for ${options.vehicle} in ${options.store} (pair first: pairkit pair)\n`);
    return EXIT.FAILURE;
  }
  const trustAnchors = options.trustAnchor
    ? [new Uint8Array(await readArgumentFile(options.trustAnchor, "--trust-anchor"))]
    : await new ServerClient(options.server).trustAnchors();
  const central = await openRadioCentral(options.radio, { mtu: options.mtu });
  try {
    const unlocked = await unlockVehicle({
      crypto: nodeCrypto,
      central,
      secureElement,
      trustAnchors,
      vehicleId: options.vehicle,
      keyId: endpoint.keyId,
    });
    if (!unlocked.ok) {
      out.write(`unlock denied: ${unlocked.error.code}\n`);
      return EXIT.FAILURE;
    }
    out.write(
      `unlocked ${options.vehicle} with key ${toHex(endpoint.keyId)} (transaction ${unlocked.transactionId})\n`,
    );
    return EXIT.OK;
  } finally {
    await central.close();
  }
}
