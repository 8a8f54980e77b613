import { type Crypto, fromHex, PairkitError, toHex } from "@pairkit/core";
import { readFileIfExists, writePrivateFileAtomically } from "@pairkit/core/node";
import type { PairedEndpoint } from "../vehicle/endpoint-store.ts";

/** What a simulated fleet keeps between runs: its carmaker CA and, per vehicle, identity and paired keys. */
export interface FleetState {
  readonly ca: { readonly name: string; readonly certificate: Uint8Array; readonly privateKey: Uint8Array };
  readonly vehicles: Record<string, StoredVehicle>;
}

export interface StoredVehicle {
  readonly privateKey: Uint8Array;
  readonly certificate: Uint8Array;
  readonly endpoints: readonly PairedEndpoint[];
}

/** Where a fleet's state lives: a JSON file, or nowhere (every run starts afresh). */
export interface FleetStateStore {
  load(): Promise<FleetState | undefined>;
  save(state: FleetState): Promise<void>;
}

export const memoryFleetState = (): FleetStateStore => {
  let kept: FleetState | undefined;
  return {
    load: async () => kept,
    save: async (state) => {
      kept = state;
    },
  };
};

interface StoredJson {
  version: 1;
  ca: { name: string; certificate: string; privateKey: string };
  vehicles: Record<
    string,
    {
      privateKey: string;
      certificate: string;
      endpoints: {
        keyId: string;
        publicKey: string;
        sessionId: string;
        policyFlags: number;
        pairedAt: number;
        keyAttestation?: string;
      }[];
    }
  >;
}

/**
 * {@link FleetStateStore} in a JSON file (mode 0600: it holds the CA's and the vehicles' private
 * keys). Saves are serialised and written to a temporary file renamed over the old one, so a crash
 * never leaves half a state and a later save never loses to an earlier one.
 */
export class JsonFileFleetState implements FleetStateStore {
  #queue: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  async load(): Promise<FleetState | undefined> {
    const text = await readFileIfExists(this.path);
    return text === undefined ? undefined : parseFleetState(text, this.path);
  }

  save(state: FleetState): Promise<void> {
    const text = `${JSON.stringify(toJson(state), null, 2)}\n`;
    const saved = this.#queue.then(() => writePrivateFileAtomically(this.path, text));
    this.#queue = saved.catch(() => undefined);
    return saved;
  }
}

function toJson(state: FleetState): StoredJson {
  return {
    version: 1,
    ca: {
      name: state.ca.name,
      certificate: toHex(state.ca.certificate),
      privateKey: toHex(state.ca.privateKey),
    },
    vehicles: Object.fromEntries(
      Object.entries(state.vehicles).map(([id, v]) => [
        id,
        {
          privateKey: toHex(v.privateKey),
          certificate: toHex(v.certificate),
          endpoints: v.endpoints.map((e) => ({
            keyId: toHex(e.keyId),
            publicKey: toHex(e.publicKey),
            sessionId: e.sessionId,
            policyFlags: e.policyFlags,
            pairedAt: e.pairedAt,
            ...(e.keyAttestation && { keyAttestation: toHex(e.keyAttestation) }),
          })),
        },
      ]),
    ),
  };
}

function parseFleetState(text: string, path: string): FleetState {
  const corrupt = (why: string) => new PairkitError("FLEET_STATE_CORRUPT", `${path}: ${why}`);
  let stored: StoredJson;
  try {
    stored = JSON.parse(text) as StoredJson;
  } catch (cause) {
    throw new PairkitError("FLEET_STATE_CORRUPT", `${path}: not JSON`, { cause });
  }
  if (stored?.version !== 1 || typeof stored.ca !== "object" || typeof stored.vehicles !== "object") {
    throw corrupt("not a version 1 fleet state");
  }
  const hex = (value: unknown, what: string, length?: number) => {
    if (typeof value !== "string" || !/^(?:[0-9a-f]{2})+$/.test(value)) throw corrupt(`${what} is not hex`);
    if (length !== undefined && value.length !== 2 * length) throw corrupt(`${what} is not ${length} bytes`);
    return fromHex(value);
  };
  if (typeof stored.ca.name !== "string") throw corrupt("CA has no name");
  const vehicles: Record<string, StoredVehicle> = {};
  for (const [id, v] of Object.entries(stored.vehicles)) {
    if (!Array.isArray(v?.endpoints)) throw corrupt(`${id}: no endpoint list`);
    vehicles[id] = {
      privateKey: hex(v.privateKey, `${id} identity key`, 32),
      certificate: hex(v.certificate, `${id} certificate`),
      endpoints: v.endpoints.map((e) => {
        if (
          typeof e?.sessionId !== "string" ||
          !Number.isSafeInteger(e.pairedAt) ||
          !Number.isInteger(e.policyFlags)
        )
          throw corrupt(`${id}: bad endpoint`);
        return {
          keyId: hex(e.keyId, `${id} endpoint key id`, 16),
          publicKey: hex(e.publicKey, `${id} endpoint key`, 65),
          sessionId: e.sessionId,
          policyFlags: e.policyFlags,
          pairedAt: e.pairedAt,
          ...(e.keyAttestation !== undefined && {
            keyAttestation: hex(e.keyAttestation, `${id} attestation`),
          }),
        };
      }),
    };
  }
  return {
    ca: {
      name: stored.ca.name,
      certificate: hex(stored.ca.certificate, "CA certificate"),
      privateKey: hex(stored.ca.privateKey, "CA key", 32),
    },
    vehicles,
  };
}

/** The key pair of a stored private key (its public half is derived, never stored twice). */
export function keyPairOf(crypto: Crypto, privateKey: Uint8Array) {
  return { privateKey: privateKey.slice(), publicKey: crypto.publicKeyOf(privateKey) };
}
