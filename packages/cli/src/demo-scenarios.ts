import { type Central, connectToCard, FrameTraceRecorder } from "@pairkit/ble";
import {
  ActiveCardPhone,
  CardProtocolError,
  CardRefusedError,
  CardWallets,
  chainPublicKey,
  chainPublicKeyFormat,
  MemoryPairedCardStore,
  parseQrPayload,
  type SecureElement,
  SoftwareWalletKeystore,
  toHex,
  utf8,
  verifyChainSignature,
  type WalletPublic,
} from "@pairkit/core";
import { nodeCrypto, readQrFromPng } from "@pairkit/core/node";
import { DEMO } from "@pairkit/server";
import { renderQrPng } from "@pairkit/sim";
import { CliPhone } from "./phone.ts";
import type { PasswordGrant, ServerClient } from "./server-client.ts";
import type { Simulators } from "./stack.ts";

/** One step of a scenario; returns a line saying what it showed (never a secret). */
export interface Phase {
  readonly title: string;
  readonly run: () => Promise<string>;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly phases: readonly Phase[];
  readonly recorder: FrameTraceRecorder;
  /** Public values the scenario produced, for anyone to check on their own (`--json`). */
  readonly evidence?: Record<string, string>;
}

/** A step's expectation did not hold: the scenario fails with this one line. */
export class ScenarioFailure extends Error {}

const PIN = DEMO.pin;
const ALICE = DEMO.users.alice;
const APP_VEHICLE = "VH-DEMO-1";
const PORTAL_VEHICLE = "VH-DEMO-3";
const POLL_MS = 50;
/** What the MPC wallet scenario signs; `--json` records it with the key and the signature. */
const WALLET_MESSAGE = "pairkit demo: pay 1 sat to carol";
/** How long the demo waits for an e-mail or a vehicle's acknowledgement. */
const WAIT_MS = 10_000;

/**
 * The demo's scenarios (`pairkit demo`), each against the running stack, each with its own
 * frame trace recorder tapping the phone's radio. Scenarios share state in order: the key the
 * app pairing makes is the one later revoked.
 */
export function demoScenarios(deps: {
  readonly simulators: Simulators;
  readonly server: ServerClient;
  /** The demo phone's radio; every scenario taps it with its own recorder. */
  readonly central: Central;
  readonly secureElement: SecureElement;
}): Scenario[] {
  const { server, central } = deps;
  const { fleet, card } = deps.simulators;
  const shared: { token?: string; ktsPublicKey?: Uint8Array } = {};
  /** The key each pairing made, by vehicle: the app pairing's key is the one later revoked. */
  const keys = new Map<string, Uint8Array>();
  const token = async () => {
    shared.token ??= await server.devToken(ALICE.id);
    return shared.token;
  };
  const ktsPublicKey = async () => {
    shared.ktsPublicKey ??= await server.ktsPublicKey();
    return shared.ktsPublicKey;
  };
  const phoneFor = async (recorder: FrameTraceRecorder) =>
    new CliPhone({
      crypto: nodeCrypto,
      central: recorder.tapCentral(central),
      server,
      token: await token(),
      trustAnchors: fleet.trustAnchors,
      ktsPublicKey: await ktsPublicKey(),
      secureElement: deps.secureElement,
      deviceId: utf8("pairkit-demo-phone"),
    });
  const scenario = (
    name: string,
    title: string,
    phases: (recorder: FrameTraceRecorder, evidence: Record<string, string>) => Phase[],
  ): Scenario => {
    const recorder = new FrameTraceRecorder({ label: name });
    const evidence: Record<string, string> = {};
    return { name, title, recorder, phases: phases(recorder, evidence), evidence };
  };

  const pairPhase = (
    vehicleId: string,
    phone: () => Promise<CliPhone>,
    grant: () => PasswordGrant | undefined,
  ) => ({
    title: `pair with ${vehicleId} over BLE (SPAKE2+, configuration, KTS attestation)`,
    run: async () => {
      const result = await (await phone()).pair(vehicleId, need(grant(), "no password"));
      if (!result.ok)
        throw new ScenarioFailure(`pairing failed in ${result.error.phase}: ${result.error.code}`);
      keys.set(vehicleId, result.key.keyId);
      return `key ${toHex(result.key.keyId)}, attested ${result.key.attested ? "yes" : "no"}`;
    },
  });
  const unlockPhase = (vehicleId: string, phone: () => Promise<CliPhone>) => ({
    title: `unlock ${vehicleId} (standard transaction)`,
    run: async () => {
      const result = await (await phone()).unlock(vehicleId, need(keys.get(vehicleId), "no key"));
      if (!result.ok) throw new ScenarioFailure(`unlock denied: ${result.error.code}`);
      return "vehicle unlocked";
    },
  });
  return [
    scenario("app-pairing", `Owner pairing by the app → unlock (${APP_VEHICLE}, ${ALICE.id})`, (recorder) => {
      const phone = () => phoneFor(recorder);
      let grant: PasswordGrant | undefined;
      return [
        {
          title: "request a pairing password (POST /pairing/password/request)",
          run: async () => {
            grant = await server.requestPassword(await token(), APP_VEHICLE);
            return `session ${grant.sessionId}, ${grant.maxAttempts} attempts, verifier on the vehicle`;
          },
        },
        pairPhase(APP_VEHICLE, phone, () => grant),
        unlockPhase(APP_VEHICLE, phone),
      ];
    }),

    scenario(
      "portal-pairing",
      `Owner pairing by the portal and e-mail (${PORTAL_VEHICLE}, ${ALICE.id})`,
      (recorder) => {
        const phone = () => phoneFor(recorder);
        const vin = vinOf(PORTAL_VEHICLE);
        let linkToken: string | undefined;
        let grant: PasswordGrant | undefined;
        return [
          {
            title: "ask the portal for a link (VIN, e-mail, owner PIN)",
            run: async () => {
              await server.requestPortalLink({ vin, email: ALICE.email, pin: PIN });
              return `accepted for ${vin}`;
            },
          },
          {
            title: "receive the e-mail in the SMTP sink (GET /dev/mailbox)",
            run: async () => {
              const deadline = Date.now() + WAIT_MS;
              for (;;) {
                const mails = (await server.devMailbox()).filter((m) => m.envelopeTo.includes(ALICE.email));
                linkToken = mails.map((m) => redeemToken(m.raw)).findLast((t) => t !== undefined);
                if (linkToken) return `one-time link to ${ALICE.email}`;
                if (Date.now() > deadline) throw new ScenarioFailure("no e-mail with a link arrived");
                await sleep(POLL_MS);
              }
            },
          },
          {
            title: "follow the link (POST /portal/redeem)",
            run: async () => {
              grant = await server.redeemLink(need(linkToken, "no link"));
              return `session ${grant.sessionId}`;
            },
          },
          pairPhase(PORTAL_VEHICLE, phone, () => grant),
          unlockPhase(PORTAL_VEHICLE, phone),
        ];
      },
    ),

    scenario("wrong-password", `A mistyped password costs one attempt (${APP_VEHICLE})`, (recorder) => {
      let grant: PasswordGrant | undefined;
      return [
        {
          title: "request a new password for another phone (replacing the key)",
          run: async () => {
            grant = await server.requestPassword(await token(), APP_VEHICLE, true);
            return `session ${grant.sessionId}, ${grant.maxAttempts} attempts`;
          },
        },
        {
          title: "pair with a mistyped password",
          run: async () => {
            const g = need(grant, "no password");
            const result = await (await phoneFor(recorder)).pair(APP_VEHICLE, g, mistype(g.pairingPassword));
            if (result.ok) throw new ScenarioFailure("a wrong password paired");
            const left = result.error.remainingAttempts;
            if (left !== g.maxAttempts - 1) {
              throw new ScenarioFailure(
                `expected ${g.maxAttempts - 1} attempts left, the vehicle says ${left}`,
              );
            }
            return `refused (${result.error.code}); ${left} of ${g.maxAttempts} attempts left`;
          },
        },
      ];
    }),

    scenario("revoked-key", `A revoked key no longer opens the vehicle (${APP_VEHICLE})`, (recorder) => {
      let serverKeyId: string | undefined;
      return [
        {
          title: "the owner revokes the app's key (POST /keys/{id}/revoke)",
          run: async () => {
            const keyId = toHex(need(keys.get(APP_VEHICLE), "the app pairing made no key"));
            const key = (await server.keys(await token())).find(
              (k) => k.vehicleId === APP_VEHICLE && k.state === "active",
            );
            serverKeyId = need(key, `no active key on ${APP_VEHICLE}`).keyId;
            await server.revokeKey(await token(), serverKeyId);
            return `revoking key ${keyId}`;
          },
        },
        {
          title: "the vehicle confirms over MQTT",
          run: async () => {
            const deadline = Date.now() + WAIT_MS;
            for (;;) {
              const key = (await server.keys(await token())).find((k) => k.keyId === serverKeyId);
              if (key?.state === "revoked") return "key state revoked";
              if (Date.now() > deadline) throw new ScenarioFailure(`key still ${key?.state}`);
              await sleep(POLL_MS);
            }
          },
        },
        {
          title: "unlock with the revoked key",
          run: async () => {
            const result = await (await phoneFor(recorder)).unlock(
              APP_VEHICLE,
              need(keys.get(APP_VEHICLE), "no key"),
            );
            if (result.ok) throw new ScenarioFailure("the revoked key unlocked the vehicle");
            return `denied (${result.error.code})`;
          },
        },
      ];
    }),

    scenario(
      "active-card",
      "Active Card: QR image → user binding → reconnect → forget → refused",
      (recorder) => {
        const tapped = recorder.tapCentral(central);
        const store = new MemoryPairedCardStore();
        const phone = new ActiveCardPhone({ crypto: nodeCrypto, store });
        let qr: ReturnType<typeof parseQrPayload> | undefined;
        let kept: Awaited<ReturnType<typeof store.get>>;
        return [
          {
            title: "scan the card's QR code (PNG)",
            run: async () => {
              const png = await renderQrPng(card.qrText());
              qr = parseQrPayload(readQrFromPng(png), Date.now());
              return `${qr.deviceName} (${qr.deviceId}), owner ${qr.ownerUser}, ${png.length}-byte PNG`;
            },
          },
          {
            title: `pair and bind user ${ALICE.id}`,
            run: async () => {
              const q = need(qr, "no QR code");
              const target = { crypto: nodeCrypto, identityPublicKey: q.identityPublicKey };
              await (await connectToCard(tapped, target, (link) => phone.pair(link, q, ALICE.id))).close();
              kept = await store.get(q.deviceId);
              return `card paired; it holds ${card.pairedPhones.length} phone(s)`;
            },
          },
          {
            title: "reconnect without the QR code, then forget",
            run: async () => {
              const q = need(qr, "no QR code");
              const target = { crypto: nodeCrypto, identityPublicKey: q.identityPublicKey };
              const session = await connectToCard(tapped, target, (link) =>
                phone.reconnect(link, q.deviceId),
              );
              await session.forget();
              await session.close();
              return `reconnected and forgotten; the card holds ${card.pairedPhones.length} phone(s)`;
            },
          },
          {
            title: "reconnect after forget is refused",
            run: async () => {
              const q = need(qr, "no QR code");
              await store.put(need(kept, "no pairing kept"));
              const target = { crypto: nodeCrypto, identityPublicKey: q.identityPublicKey };
              try {
                await connectToCard(tapped, target, (link) => phone.reconnect(link, q.deviceId));
              } catch (error) {
                if (error instanceof CardRefusedError) return `refused (${error.reason})`;
                throw error;
              }
              throw new ScenarioFailure("the forgotten phone was let in");
            },
          },
        ];
      },
    ),

    scenario(
      "mpc-wallet",
      "MPC wallet: pair the card → 2-of-2 Taproot wallet → sign → verify → forget erases the share",
      (recorder, evidence) => {
        const tapped = recorder.tapCentral(central);
        const phone = new ActiveCardPhone({ crypto: nodeCrypto, store: new MemoryPairedCardStore() });
        const keystore = SoftwareWalletKeystore.inMemory();
        const target = () => ({ crypto: nodeCrypto, identityPublicKey: card.qrPayload().identityPublicKey });
        const open = async () => {
          const session = await connectToCard(tapped, target(), (link) =>
            phone.reconnect(link, card.deviceId),
          );
          return { session, wallets: new CardWallets(session, { crypto: nodeCrypto, keystore }) };
        };
        const pairCard = async () => {
          const qr = card.qrPayload();
          await (await connectToCard(tapped, target(), (link) => phone.pair(link, qr, ALICE.id))).close();
        };
        const message = utf8(WALLET_MESSAGE);
        let wallet: WalletPublic | undefined;
        let signature: Uint8Array | undefined;
        return [
          {
            title: `pair with the card and bind user ${ALICE.id}`,
            run: async () => {
              await pairCard();
              return `card ${card.deviceId} paired`;
            },
          },
          {
            title: "create a 2-of-2 wallet with the card (FROST DKG, secp256k1 Taproot)",
            run: async () => {
              const { session, wallets } = await open();
              try {
                ({ wallet } = await wallets.createWallet({
                  ciphersuite: "secp256k1-taproot",
                  label: "demo",
                }));
              } finally {
                await session.close();
              }
              evidence.ciphersuite = wallet.ciphersuite;
              evidence.publicKeyFormat = chainPublicKeyFormat(wallet.ciphersuite);
              evidence.publicKey = toHex(chainPublicKey(wallet));
              return `group key (${evidence.publicKeyFormat}) ${evidence.publicKey}`;
            },
          },
          {
            title: `co-sign "${WALLET_MESSAGE}" with the card`,
            run: async () => {
              const { session, wallets } = await open();
              try {
                signature = await wallets.sign(need(wallet, "no wallet").walletId, { message });
              } finally {
                await session.close();
              }
              evidence.message = WALLET_MESSAGE;
              evidence.signature = toHex(signature);
              return `BIP340 signature ${evidence.signature}`;
            },
          },
          {
            title: "verify with the plain BIP340 verifier (not FROST)",
            run: async () => {
              const w = need(wallet, "no wallet");
              if (
                !verifyChainSignature(
                  w.ciphersuite,
                  chainPublicKey(w),
                  message,
                  need(signature, "no signature"),
                )
              ) {
                throw new ScenarioFailure("the wallet's signature does not verify");
              }
              return "valid under the group key";
            },
          },
          {
            title: "forget the phone: the card erases its share",
            run: async () => {
              const { session } = await open();
              await session.forget();
              await session.close();
              const w = need(wallet, "no wallet");
              if (card.wallets.some((c) => toHex(c.walletId) === toHex(w.walletId))) {
                throw new ScenarioFailure("the card still holds the wallet's share");
              }
              return `the card holds ${card.wallets.length} wallet(s)`;
            },
          },
          {
            title: "pair again and sign with the old wallet: refused",
            run: async () => {
              await pairCard();
              const { session, wallets } = await open();
              try {
                await wallets.sign(need(wallet, "no wallet").walletId, { message });
              } catch (error) {
                if (error instanceof CardProtocolError)
                  return `refused (${error instanceof CardRefusedError ? error.reason : error.code})`;
                throw error;
              } finally {
                await session.close();
              }
              throw new ScenarioFailure("the card signed with an erased share");
            },
          },
        ];
      },
    ),
  ];
}

function vinOf(vehicleId: string): string {
  const vehicle = Object.values(DEMO.vehicles).find((v) => v.id === vehicleId);
  return need(vehicle, `${vehicleId} is not a demo vehicle`).vin;
}

/** The one-time token of the portal's deep link (`…/portal/redeem#token=…`) in a raw e-mail. */
export function redeemToken(raw: string): string | undefined {
  // Quoted-printable, as mailers send long lines: soft line breaks and =XX escapes.
  const text = /content-transfer-encoding:\s*quoted-printable/i.test(raw)
    ? raw
        .replace(/=\r?\n/g, "")
        .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    : raw;
  return /\/portal\/redeem#token=([A-Za-z0-9_-]{43})/.exec(text)?.[1];
}

/** A different 8-digit password: the last digit typed wrong. */
function mistype(password: string): string {
  const last = Number(password.at(-1));
  return `${password.slice(0, -1)}${(last + 1) % 10}`;
}

function need<T>(value: T | undefined | null, why: string): T {
  if (value === undefined || value === null) throw new ScenarioFailure(why);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
