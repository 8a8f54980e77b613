import { readFile, rename, writeFile } from "node:fs/promises";
import { fromHex, PairkitError, toHex } from "@pairkit/core";
import type { CardState, CardStore, PairedPhone } from "./card-store.ts";

interface StoredCardState {
  version: 1;
  deviceId: string;
  identityPrivateKey: string;
  pairedPhones: { identityPublicKey: string; userId: string; pairedAt: number }[];
}

/**
 * {@link CardStore} in a JSON file (the simulator's "flash"): written to a temporary file
 * with mode 0600 and renamed over the old one, so a crash never leaves half a state.
 */
export class JsonFileCardStore implements CardStore {
  constructor(readonly path: string) {}

  async load(): Promise<CardState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    return parseStoredState(text, this.path);
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
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, this.path);
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
