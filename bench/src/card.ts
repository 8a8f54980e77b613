import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
} from "node:crypto";
import {
  ActiveCardPhone,
  type Crypto,
  createMemoryLinkPair,
  MemoryPairedCardStore,
  nobleCrypto,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { CardSimulator, MemoryCardStore } from "@pairkit/sim";
import { type BenchClock, measureInterleaved, printTable, round3 } from "./measure.ts";

const CLOCK: BenchClock = "cpu";
const cardInfo = { deviceName: "AC-Bench", ownerUser: "", firmwareVersion: "1.0.0" };

/**
 * Both peers in one process over an in-memory link: everything a handshake costs in pairkit
 * (protobuf, wrapper, checks, crypto through the `Crypto` port) except the radio. Every case,
 * the native floor included, is timed by the process's CPU time (`process.cpuUsage`, all
 * threads, so garbage collection counts): the target is CPU time, and on a machine
 * shared with other work, wall time would also count the slices other processes took.
 */
async function peers(crypto: Crypto) {
  const card = await CardSimulator.open({
    crypto,
    store: new MemoryCardStore(),
    ...cardInfo,
    maxPairedPhones: Number.MAX_SAFE_INTEGER,
  });
  const qr = card.qrPayload();
  const phoneStore = new MemoryPairedCardStore();
  const phone = new ActiveCardPhone({ crypto, store: phoneStore });
  const newPhone = new ActiveCardPhone({ crypto, store: new MemoryPairedCardStore() });
  const connect = () => {
    const [phoneLink, cardLink] = createMemoryLinkPair();
    return { phoneLink, served: card.serve(cardLink) };
  };
  // One pairing so that reconnect has keys; QR parsing is not part of any measured case.
  const first = connect();
  await (await phone.pair(first.phoneLink, qr, "bench@example.com")).close();
  await first.served;
  return {
    /** docs §4.6: steps 1–13 with the stored keys. */
    reconnect: async () => {
      const link = connect();
      await (await phone.reconnect(link.phoneLink, qr.deviceId)).close();
      await link.served;
    },
    /**
     * docs §4.5 steps 1–15 with a new phone identity, then §4.7 forget, so the card's state
     * stays the same size from one run to the next.
     */
    pairAndForget: async () => {
      const link = connect();
      const session = await newPhone.pair(link.phoneLink, qr, "bench@example.com");
      await session.forget();
      await session.close();
      await link.served;
    },
  };
}

/**
 * The native floor: the primitives both sides call, as often as the protocol calls them,
 * straight on node:crypto — 4 ECDSA signs, 4 verifies, 2 ECDHs, 2 HKDFs, `keygens` key
 * generations, one AES-256-GCM seal + open per encrypted message (reconnect: 2 keygens,
 * 2 messages; pairing + forget: 3 keygens, 6 messages) and the CSPRNG draws (session_id, and
 * each side's challenge nonce and signer nonce: 16 + 4 × 32 bytes). Keys are imported as the
 * protocol must import them: identity private keys are raw bytes in the stores and an imported
 * private KeyObject must not outlive the caller's `wipe()`, so each of the 4 signatures imports
 * its key (as a JWK, node's cheapest form for a raw key, with the signer's public half, which
 * each side holds for its own identity); a peer's public key is imported once and reused, which
 * costs nothing on reconnect (both identities known) and one import on pairing (the card meets
 * the phone's fresh identity key).
 */
function nativeFloor(keygens: number, encryptedMessages: number, publicKeyImports: number) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const privateJwk = privateKey.export({ format: "jwk" });
  const publicJwk = publicKey.export({ format: "jwk" });
  const message = randomBytes(175);
  const signature = sign("sha256", message, privateKey);
  const peer = createECDH("prime256v1");
  peer.generateKeys();
  const peerPublic = peer.getPublicKey();
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const aad = randomBytes(44);
  const sealed = (() => {
    const c = createCipheriv("aes-256-gcm", key, iv).setAAD(aad);
    return { ct: Buffer.concat([c.update(randomBytes(70)), c.final()]), tag: c.getAuthTag() };
  })();
  return () => {
    randomBytes(16);
    for (let i = 0; i < 4; i++) randomBytes(32);
    for (let i = 0; i < 4; i++) sign("sha256", message, createPrivateKey({ key: privateJwk, format: "jwk" }));
    for (let i = 0; i < publicKeyImports; i++) createPublicKey({ key: publicJwk, format: "jwk" });
    for (let i = 0; i < 4; i++) verify("sha256", message, publicKey, signature);
    for (let i = 0; i < keygens; i++) createECDH("prime256v1").generateKeys();
    for (let i = 0; i < 2; i++) {
      const ecdh = createECDH("prime256v1");
      ecdh.setPrivateKey(key);
      ecdh.computeSecret(peerPublic);
      hkdfSync("sha256", key, iv, aad, 32);
    }
    for (let i = 0; i < encryptedMessages; i++) {
      const c = createCipheriv("aes-256-gcm", key, iv).setAAD(aad);
      c.update(randomBytes(70));
      c.final();
      c.getAuthTag();
      const d = createDecipheriv("aes-256-gcm", key, iv).setAAD(aad).setAuthTag(sealed.tag);
      d.update(sealed.ct);
      d.final();
    }
  };
}

export async function runCardBench(options: { quick?: boolean } = {}): Promise<object> {
  const quick = options.quick ?? false;
  const node = await peers(nodeCrypto);
  const noble = await peers(nobleCrypto);
  const cases = await measureInterleaved(
    [
      { name: "reconnect handshake, node", run: node.reconnect },
      { name: "pairing + forget, node", run: node.pairAndForget },
      { name: "reconnect handshake, noble", run: noble.reconnect },
      { name: "native floor (reconnect)", run: nativeFloor(2, 2, 0) },
      { name: "native floor (pairing + forget)", run: nativeFloor(3, 6, 1) },
    ],
    { ...(quick ? { rounds: 3, opsPerRound: 5 } : { rounds: 15, opsPerRound: 20 }), clock: CLOCK },
  );
  const get = (name: string) => cases.find((m) => m.name === name)!.ms;
  const ratios = {
    reconnectNodeVsNativeFloor: get("reconnect handshake, node") / get("native floor (reconnect)"),
    pairingNodeVsNativeFloor: get("pairing + forget, node") / get("native floor (pairing + forget)"),
    reconnectNobleVsNode: get("reconnect handshake, noble") / get("reconnect handshake, node"),
  };
  const targets = { reconnectNodeVsNativeFloor: 2, pairingNodeVsNativeFloor: 2 };
  printTable(
    `Active Card handshake, both sides in one process (QR parsing excluded), ms of ${CLOCK} time`,
    cases.map((m) => ({ case: m.name, ms: round3(m.ms) })),
  );
  printTable(
    "ratios (target ≤)",
    Object.entries(ratios).map(([name, value]) => ({
      ratio: name,
      value: round3(value),
      target: targets[name as keyof typeof targets] ?? "",
      met: name in targets ? value <= targets[name as keyof typeof targets] : "",
    })),
  );
  return {
    machine: { node: process.version, cpus: (await import("node:os")).cpus().length },
    clock: CLOCK,
    cases: cases.map((m) => ({ name: m.name, ms: round3(m.ms), rounds: m.rounds.map(round3) })),
    ratios: Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, round3(v)])),
    targets,
  };
}
