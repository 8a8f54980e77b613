import { extname } from "node:path";
import { type Central, connectToCard, openRadioCentral } from "@pairkit/ble";
import {
  ActiveCardPhone,
  CardProtocolError,
  CardRefusedError,
  type CardSession,
  parseQrPayload,
  QrCodeError,
} from "@pairkit/core";
import { FilePairedCardStore, nodeCrypto, readQrFromPng } from "@pairkit/core/node";
import { readArgumentFile } from "./args.ts";
import { EXIT } from "./exit-codes.ts";
import { secureElementSecret } from "./pair.ts";

/** What the phone-side card commands share. */
export interface CardPhoneOptions {
  readonly radio: string;
  /** The phone's paired cards, encrypted at rest (like pairkit pair's secure element file). */
  readonly store: string;
}

export interface CardPairOptions extends CardPhoneOptions {
  /** The card's QR code: a PNG image, or a file holding its JSON text. */
  readonly qr: string;
  readonly user: string;
}

export interface CardOnlyOptions extends CardPhoneOptions {
  /** The card's deviceId (printed by card-pair). */
  readonly card: string;
}

/**
 * `pairkit card-pair`: the phone side of Active Card pairing (docs/protocol.md §4.5) against a
 * card on the radio, from its QR code; keeps the pairing (phone identity key included) in the
 * store file. Prints progress and the card's id — never a key.
 */
export function runCardPair(o: CardPairOptions, env: NodeJS.ProcessEnv, out: NodeJS.WritableStream) {
  return withPhone(o, env, out, async (phone, central) => {
    const qr = parseQrPayload(await readQrText(o.qr), Date.now());
    out.write(`card ${qr.deviceName || "(no name)"} (${qr.deviceId}), firmware ${qr.firmwareVersion}\n`);
    const card = { crypto: nodeCrypto, identityPublicKey: qr.identityPublicKey };
    const session = await connectToCard(central, card, (link) => phone.pair(link, qr, o.user));
    await session.close();
    out.write(`paired with card ${qr.deviceId}; user ${o.user} bound; kept in ${o.store}\n`);
  });
}

/** `pairkit card-reconnect`: a fresh authenticated session with a paired card, no QR code (§4.6). */
export function runCardReconnect(o: CardOnlyOptions, env: NodeJS.ProcessEnv, out: NodeJS.WritableStream) {
  return withPhone(o, env, out, async (phone, central, store) => {
    const session = await reconnect(phone, central, store, o.card);
    await session.close();
    out.write(`reconnected to card ${o.card}: encrypted session established\n`);
  });
}

/** `pairkit card-forget`: reconnects, asks the card to erase this phone, then erases the card here (§4.7). */
export function runCardForget(o: CardOnlyOptions, env: NodeJS.ProcessEnv, out: NodeJS.WritableStream) {
  return withPhone(o, env, out, async (phone, central, store) => {
    const session = await reconnect(phone, central, store, o.card);
    try {
      await session.forget();
    } finally {
      await session.close();
    }
    out.write(`card ${o.card} and this phone have forgotten each other\n`);
  });
}

export async function reconnect(
  phone: ActiveCardPhone,
  central: Central,
  store: FilePairedCardStore,
  deviceId: string,
): Promise<CardSession> {
  const paired = await store.get(deviceId);
  if (!paired)
    throw new CardProtocolError("NOT_PAIRED", "challenge", `no pairing with card ${deviceId} kept`);
  const card = { crypto: nodeCrypto, identityPublicKey: paired.cardIdentityPublicKey };
  return connectToCard(central, card, (link) => phone.reconnect(link, deviceId));
}

/**
 * Opens the store and the radio, runs `action`, and turns the protocol's typed failures into one
 * line and exit 1 (docs/cli.md); the radio closes either way.
 */
export async function withPhone(
  o: CardPhoneOptions,
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
  action: (phone: ActiveCardPhone, central: Central, store: FilePairedCardStore) => Promise<void>,
): Promise<number> {
  const store = new FilePairedCardStore({
    path: o.store,
    crypto: nodeCrypto,
    secret: await secureElementSecret(o.store, env),
  });
  const central = await openRadioCentral(o.radio, { mtu: 185 });
  try {
    await action(new ActiveCardPhone({ crypto: nodeCrypto, store }), central, store);
    return EXIT.OK;
  } catch (error) {
    if (error instanceof CardRefusedError) {
      out.write(`the card refused in phase ${error.phase}: ${error.reason || "no reason given"}\n`);
      return EXIT.FAILURE;
    }
    if (error instanceof CardProtocolError) {
      out.write(`failed in phase ${error.phase}: ${error.code} (${error.message})\n`);
      return EXIT.FAILURE;
    }
    if (error instanceof QrCodeError) {
      out.write(`QR code not usable: ${error.code} (${error.message})\n`);
      return EXIT.FAILURE;
    }
    throw error;
  } finally {
    await central.close();
    store.destroy();
  }
}

/** The QR code's text from a PNG image (decoded) or a text file holding the JSON. */
async function readQrText(path: string): Promise<string> {
  const bytes = await readArgumentFile(path, "--qr");
  if (extname(path).toLowerCase() === ".png") return readQrFromPng(new Uint8Array(bytes));
  return bytes.toString("utf8").trim();
}
