import { constantTimeEqual, type EndpointInfo, type SecureElement } from "@pairkit/core";

/**
 * The key `pairkit unlock` uses for a vehicle: the newest in the store. `pair` removes the keys
 * it supersedes, but a store filled before it did may still hold older ones.
 */
export async function currentKeyFor(
  secureElement: SecureElement,
  vehicleId: string,
): Promise<EndpointInfo | undefined> {
  const keys = (await secureElement.listEndpoints()).filter((e) => e.vehicleId === vehicleId);
  return keys.reduce<EndpointInfo | undefined>(
    (newest, e) => (newest === undefined || e.createdAt >= newest.createdAt ? e : newest),
    undefined,
  );
}

/**
 * After a pairing succeeded, every other key of that vehicle in the store is superseded: the
 * backend admits one active owner key per vehicle and revokes the one it replaces. Erases them
 * (their private keys with them) and returns what it erased.
 */
export async function eraseSupersededKeys(
  secureElement: SecureElement,
  vehicleId: string,
  kept: Uint8Array,
): Promise<EndpointInfo[]> {
  const superseded = (await secureElement.listEndpoints()).filter(
    (e) => e.vehicleId === vehicleId && !constantTimeEqual(e.keyId, kept),
  );
  for (const e of superseded) await secureElement.deleteEndpoint(e.keyId);
  return superseded;
}
