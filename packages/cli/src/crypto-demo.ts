import {
  type Crypto,
  DEFAULT_SCRYPT_PARAMS,
  deriveOwnerPairingKeys,
  derivePasswordScalars,
  generatePairingPassword,
  nobleCrypto,
  prepareProver,
  prepareVerifier,
  SALT_LENGTH,
  Spake2PlusProver,
  Spake2PlusVerifier,
  toHex,
  utf8,
  verifierFromScalars,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";

const ms = (start: bigint) => (Number(process.hrtime.bigint() - start) / 1e6).toFixed(2);

/**
 * One full owner-pairing key agreement per back-end: password → scrypt → (w0, w1, L) → SPAKE2+
 * (rfc9383 profile) → Kenc/Kmac/Krmac, printing what each side sends and how long each step took.
 * Only public values (shares, a key fingerprint) are printed; never the password-derived secrets.
 */
export async function runCryptoDemo(out: NodeJS.WritableStream): Promise<void> {
  out.write("pairkit crypto demonstration: SPAKE2+ owner-pairing key agreement (RFC 9383, P-256)\n\n");
  for (const crypto of [nodeCrypto, nobleCrypto] as Crypto[]) {
    out.write(`back-end: ${crypto.name}\n`);
    const password = generatePairingPassword(crypto.randomBytes);
    const salt = crypto.randomBytes(SALT_LENGTH);
    let t = process.hrtime.bigint();
    const scalars = await derivePasswordScalars(crypto, password, salt, DEFAULT_SCRYPT_PARAMS);
    out.write(`  scrypt N=32768 r=8 p=1 → w0, w1     ${ms(t)} ms\n`);
    const record = verifierFromScalars(crypto, scalars);
    out.write(`  vehicle stores w0 and L = ${toHex(record.L).slice(0, 18)}…\n`);

    const params = {
      profile: "rfc9383" as const,
      context: utf8("pairkit crypto demo"),
      idProver: utf8("phone"),
      idVerifier: utf8("vehicle"),
    };
    t = process.hrtime.bigint();
    const prover = new Spake2PlusProver(crypto, params, prepareProver(crypto, scalars));
    const verifier = new Spake2PlusVerifier(crypto, params, prepareVerifier(crypto, record));
    const { shareV, confirmV } = verifier.receiveShareP(prover.shareP);
    const { confirmP } = prover.receiveShareV(shareV);
    const phoneKey = prover.verifyConfirmV(confirmV);
    const vehicleKey = verifier.verifyConfirmP(confirmP);
    out.write(`  SPAKE2+ exchange (both sides)        ${ms(t)} ms\n`);
    out.write(`    phone → vehicle  X  ${toHex(prover.shareP).slice(0, 18)}…\n`);
    out.write(
      `    vehicle → phone  Y  ${toHex(shareV).slice(0, 18)}…  confirmV ${toHex(confirmV).slice(0, 8)}…\n`,
    );
    out.write(`    phone → vehicle  confirmP ${toHex(confirmP).slice(0, 8)}…\n`);
    const keys = deriveOwnerPairingKeys(crypto, "rfc9383", phoneKey);
    const agree = toHex(phoneKey) === toHex(vehicleKey);
    out.write(
      `  both sides hold K_shared: ${agree ? "yes" : "NO"}; Kenc fingerprint ${toHex(crypto.sha256(keys.kenc)).slice(0, 8)}\n\n`,
    );
    prover.destroy();
    verifier.destroy();
    if (!agree) throw new Error("SPAKE2+ key mismatch");
  }
}
