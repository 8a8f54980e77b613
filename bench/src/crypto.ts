import { createECDH, randomBytes } from "node:crypto";
import { Bytes, NodeJsStyleCrypto, Spake2p, StandardCrypto } from "@matter/general";
import {
  type Crypto,
  DEFAULT_SCRYPT_PARAMS,
  encodeScalar,
  nobleCrypto,
  type PasswordScalars,
  type PreparedProver,
  type PreparedVerifier,
  prepareProver,
  prepareVerifier,
  Spake2PlusProver,
  Spake2PlusVerifier,
  utf8,
  verifierFromScalars,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { measureInterleaved, printTable, round3 } from "./measure.ts";

const params = {
  profile: "rfc9383" as const,
  context: utf8("pairkit bench"),
  idProver: utf8("phone"),
  idVerifier: utf8("vehicle"),
};

function scalars(): PasswordScalars {
  // Fixed, valid scalars: the exchange cost does not depend on their values.
  return {
    w0: 0x3f2a9c5e1b7d4f60a8e2c4b6d8f0a2c4e6f8b0d2a4c6e8f0b2d4f6a8c0e2a4c6n,
    w1: 0x7d1e3b5a9c8f6e4d2b0a1c3e5f7d9b8a6c4e2f0d1b3a5c7e9f8d6b4a2c0e1f3dn,
  };
}

/**
 * One SPAKE2+ handshake as it runs in pairkit: the vehicle prepared its verifier record (w0·M,
 * w0·N) at provisioning and the phone right after deriving w0 and w1 from the password, so a
 * handshake (or a retry) does only the per-handshake work.
 */
function pairkitExchange(crypto: Crypto) {
  const verifierRecord = prepareVerifier(crypto, verifierFromScalars(crypto, scalars()));
  const proverRecord = prepareProver(crypto, scalars());
  return () => handshake(crypto, proverRecord, verifierRecord);
}

/** The same with nothing prepared in advance: w0·M and w0·N computed on both sides every time, as matter.js does. */
function pairkitColdExchange(crypto: Crypto) {
  return () =>
    handshake(
      crypto,
      prepareProver(crypto, scalars()),
      prepareVerifier(crypto, verifierFromScalars(crypto, scalars())),
    );
}

function handshake(crypto: Crypto, proverRecord: PreparedProver, verifierRecord: PreparedVerifier): void {
  const prover = new Spake2PlusProver(crypto, params, proverRecord);
  const verifier = new Spake2PlusVerifier(crypto, params, verifierRecord);
  const { shareV, confirmV } = verifier.receiveShareP(prover.shareP);
  const { confirmP } = prover.receiveShareV(shareV);
  prover.verifyConfirmV(confirmV);
  verifier.verifyConfirmP(confirmP);
}

function matterExchange(crypto: NodeJsStyleCrypto | StandardCrypto) {
  const { w0, w1 } = scalars();
  const L = crypto.ecMultiply(Spake2pBase(), Bytes.fromBigInt(w1, 32));
  const context = utf8("pairkit bench");
  return async () => {
    const prover = Spake2p.create(crypto, context, w0);
    const verifier = Spake2p.create(crypto, context, w0);
    const X = prover.computeX();
    const Y = verifier.computeY();
    const v = await verifier.computeSecretAndVerifiersFromX(L, X, Y);
    const p = await prover.computeSecretAndVerifiersFromY(w1, X, Y);
    if (!Bytes.areEqual(v.hAY, p.hAY)) throw new Error("matter.js exchange disagreed");
  };
}

function Spake2pBase(): Uint8Array {
  return nobleCrypto.publicKeyOf(encodeScalar(1n));
}

/**
 * The native floor: the scalar multiplications a SPAKE2+ handshake needs (x·G, y·G fixed-base;
 * Z and V on each side variable-base), each done by node:crypto alone — fixed-base as one key
 * generation, variable-base as the two x-only ECDHs a full point needs. Nothing else.
 */
function nativeFloor() {
  const point = nobleCrypto.publicKeyOf(encodeScalar(12345n));
  const k = randomBytes(32);
  return () => {
    for (let i = 0; i < 2; i++) {
      const ecdh = createECDH("prime256v1");
      ecdh.setPrivateKey(k);
      ecdh.getPublicKey();
    }
    for (let i = 0; i < 8; i++) {
      const ecdh = createECDH("prime256v1");
      ecdh.setPrivateKey(k);
      ecdh.computeSecret(point);
    }
  };
}

export async function runCryptoBench(options: { quick?: boolean } = {}) {
  const quick = options.quick ?? false;
  const matterNode = new NodeJsStyleCrypto(await import("node:crypto"));
  const matterNoble = new StandardCrypto(globalThis.crypto);
  const spake = await measureInterleaved(
    [
      { name: "pairkit node", run: pairkitExchange(nodeCrypto) },
      { name: "pairkit node (cold)", run: pairkitColdExchange(nodeCrypto) },
      { name: "pairkit noble", run: pairkitExchange(nobleCrypto) },
      { name: "pairkit noble (cold)", run: pairkitColdExchange(nobleCrypto) },
      { name: "matter.js node", run: matterExchange(matterNode) },
      { name: "matter.js noble", run: matterExchange(matterNoble) },
      { name: "native floor", run: nativeFloor() },
    ],
    quick ? { rounds: 3, opsPerRound: 5 } : { rounds: 9, opsPerRound: 20 },
  );
  const get = (name: string) => spake.find((m) => m.name === name)!.ms;
  const ratios = {
    nodeVsMatterNode: get("pairkit node") / get("matter.js node"),
    nodeColdVsMatterNode: get("pairkit node (cold)") / get("matter.js node"),
    nobleVsMatterNoble: get("pairkit noble") / get("matter.js noble"),
    nobleColdVsMatterNoble: get("pairkit noble (cold)") / get("matter.js noble"),
    nodeVsNativeFloor: get("pairkit node") / get("native floor"),
    matterNodeVsNativeFloor: get("matter.js node") / get("native floor"),
  };
  const targets = { nodeVsMatterNode: 0.35, nobleVsMatterNoble: 0.5 };

  const password = utf8("12345678");
  const salt = randomBytes(16);
  const scrypt = await measureInterleaved(
    [
      { name: "scrypt node", run: () => nodeCrypto.scrypt(password, salt, DEFAULT_SCRYPT_PARAMS, 80) },
      { name: "scrypt noble", run: () => nobleCrypto.scrypt(password, salt, DEFAULT_SCRYPT_PARAMS, 80) },
    ],
    quick ? { rounds: 1, opsPerRound: 1, warmupOps: 0 } : { rounds: 5, opsPerRound: 1, warmupOps: 1 },
  );
  const scryptRatio = scrypt[1]!.ms / scrypt[0]!.ms;

  printTable(
    "SPAKE2+ full exchange (prover + verifier, no password hashing), ms per exchange",
    spake.map((m) => ({
      case: m.name,
      ms: round3(m.ms),
      "× native floor": round3(m.ms / get("native floor")),
    })),
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
  printTable(
    "scrypt N=32768 r=8 p=1 dkLen=80, ms",
    scrypt.map((m) => ({ case: m.name, ms: round3(m.ms) })),
  );
  return {
    machine: { node: process.version, cpus: (await import("node:os")).cpus().length },
    spake2plus: spake.map((m) => ({ name: m.name, ms: round3(m.ms), rounds: m.rounds.map(round3) })),
    ratios: Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, round3(v)])),
    targets,
    scrypt: {
      cases: scrypt.map((m) => ({ name: m.name, ms: round3(m.ms) })),
      nobleVsNode: round3(scryptRatio),
    },
  };
}
