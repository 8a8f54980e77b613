import { fromHex, PairkitError, toHex } from "@pairkit/core";
import { readFileIfExists, writePrivateFileAtomically } from "@pairkit/core/node";
import type { CardState, CardStore, PairedPhone } from "./card-store.ts";

interface StoredCardState {
  version: 1;
  deviceId: string;
  identityPrivateKey: string;
  pairedPhones: { identityPublicKey: string; userId: string; pairedAt: number }[];
}

/**
 * {@link CardStore} in a JSON file (the simulator's "flash"), replaced atomically with mode 0600
 * (writePrivateFileAtomically), so a crash never leaves half a state.
 */
export class JsonFileCardStore implements CardStore {
  constructor(readonly path: string) {}

  async load(): Promise<CardState | undefined> {
    const text = await readFileIfExists(this.path);
    return text === undefined ? undefined : parseStoredState(text, this.path);
  }

  async save(state: CardState): Promise<void> {
    const stored: StoredCardState = {
      version: 1,
      deviceId: state.deviceId,
      identityPrivateKey: toHex(state.identityPrivateKey),
      pairedPhones: state.pairedPhones.map((p) => ({
        identityPublicKey: toHex(p.identityPublicKey),
        userId: p.userId,
        pairedAt: p.pairedAt,
      })),
    };
    await writePrivateFileAtomically(this.path, `${JSON.stringify(stored, null, 2)}\n`);
  }
}

function parseStoredState(text: string, path: string): CardState {
  const corrupt = (why: string) => new PairkitError("CARD_STATE_CORRUPT", `${path}: ${why}`);
  let stored: StoredCardState;
  try {
    stored = JSON.parse(text) as StoredCardState;
  } catch (cause) {
    throw new PairkitError("CARD_STATE_CORRUPT", `${path}: not JSON`, { cause });
  }
  if (stored?.version !== 1 || typeof stored.deviceId !== "string" || !Array.isArray(stored.pairedPhones)) {
    throw corrupt("not a version 1 card state");
  }
  const hex = (value: unknown, length: number, what: string) => {
    if (typeof value !== "string" || value.length !== 2 * length)
      throw corrupt(`${what} is not ${length} bytes`);
    return fromHex(value);
  };
  const pairedPhones: PairedPhone[] = stored.pairedPhones.map((p) => {
    if (typeof p?.userId !== "string" || !Number.isSafeInteger(p.pairedAt)) throw corrupt("bad paired phone");
    return {
      identityPublicKey: hex(p.identityPublicKey, 65, "phone key"),
      userId: p.userId,
      pairedAt: p.pairedAt,
    };
  });
  return {
    deviceId: stored.deviceId,
    identityPrivateKey: hex(stored.identityPrivateKey, 32, "identity key"),
    pairedPhones,
  };
}
