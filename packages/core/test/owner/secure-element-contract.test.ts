import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  type EndpointSetup,
  endpointKeyId,
  type SecureElement,
  SecureElementError,
  SoftwareSecureElement,
  toHex,
  utf8,
} from "../../src/index.ts";
import { nodeCrypto, openFileSecureElement } from "../../src/node/index.ts";

const crypto = nodeCrypto;
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pairkit-se-"));
  dirs.push(dir);
  return join(dir, "se.json");
}

function setup(): EndpointSetup {
  return {
    vehicleId: "VIN-1",
    kenc: crypto.randomBytes(32),
    kmac: crypto.randomBytes(32),
    krmac: crypto.randomBytes(32),
    mailbox: {
      privateMailbox: { offset: 0, size: 10 },
      confidentialMailbox: { offset: 10, size: 10 },
      signalingBitmapOffset: 20,
      keyAttestationOffset: 30,
    },
    vehicleCertificateChain: [Uint8Array.of(0x30, 0x00)],
    policyFlags: 1,
  };
}

const implementations: Array<{ name: string; make: () => Promise<SecureElement> }> = [
  { name: "in-memory", make: async () => SoftwareSecureElement.inMemory(crypto) },
  {
    name: "file-backed (passphrase)",
    make: async () =>
      openFileSecureElement({
        path: await tempPath(),
        crypto,
        secret: { passphrase: "hunter2", scrypt: FAST_SCRYPT },
      }),
  },
];

describe.each(implementations)("SecureElement contract: $name", ({ make }) => {
  it("creates endpoints whose key id is SHA-256(public key)[0:16] and signs with the hidden key", async () => {
    const se = await make();
    const { keyId, publicKey } = await se.createEndpoint();
    expect(toHex(keyId)).toBe(toHex(endpointKeyId(crypto, publicKey)));
    const signature = await se.sign(keyId, utf8("message"));
    expect(crypto.ecdsaVerify(publicKey, utf8("message"), signature)).toBe(true);
  });

  it("never hands out private or session keys", async () => {
    const se = await make();
    const { keyId } = await se.createEndpoint();
    const s = setup();
    await se.setupEndpoint(keyId, s);
    const info = (await se.getEndpoint(keyId))!;
    const exposed = JSON.stringify(info, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v));
    for (const secret of [s.kenc, s.kmac, s.krmac]) expect(exposed).not.toContain(toHex(secret));
    expect(Object.keys(info)).not.toContain("privateKey");
    expect(info).toMatchObject({ vehicleId: "VIN-1", policyFlags: 1 });
  });

  it("MACs receipts under Krmac only once set up, and sets up only once", async () => {
    const se = await make();
    const { keyId } = await se.createEndpoint();
    await expect(se.receiptMac(keyId, utf8("x"))).rejects.toBeInstanceOf(SecureElementError);
    const s = setup();
    await se.setupEndpoint(keyId, s);
    expect(toHex(await se.receiptMac(keyId, utf8("x")))).toBe(toHex(crypto.hmacSha256(s.krmac, utf8("x"))));
    await expect(se.setupEndpoint(keyId, setup())).rejects.toMatchObject({ code: "ENDPOINT_ALREADY_SET_UP" });
  });

  it("stores certificate and attestation, deletes everything, and refuses unknown keys", async () => {
    const se = await make();
    const { keyId } = await se.createEndpoint();
    await se.storeEndpointCertificate(keyId, Uint8Array.of(1, 2));
    await se.storeKeyAttestation(keyId, Uint8Array.of(3, 4));
    expect(await se.getEndpoint(keyId)).toMatchObject({
      endpointCertificate: Uint8Array.of(1, 2),
      keyAttestation: Uint8Array.of(3, 4),
    });
    expect(await se.listEndpoints()).toHaveLength(1);
    expect(await se.deleteEndpoint(keyId)).toBe(true);
    expect(await se.deleteEndpoint(keyId)).toBe(false);
    expect(await se.getEndpoint(keyId)).toBeUndefined();
    await expect(se.sign(keyId, utf8("m"))).rejects.toMatchObject({ code: "UNKNOWN_ENDPOINT" });
  });
});

describe("destroy", () => {
  it("wipes the software secure element's keys from memory", async () => {
    const se = SoftwareSecureElement.inMemory(crypto);
    const { keyId } = await se.createEndpoint();
    se.destroy();
    await expect(se.sign(keyId, utf8("m"))).rejects.toMatchObject({ code: "UNKNOWN_ENDPOINT" });
  });
});

describe("file-backed secure element: keys encrypted at rest", () => {
  it("survives a restart with the passphrase; the file holds no key in the clear", async () => {
    const path = await tempPath();
    const secret = { passphrase: "correct horse", scrypt: FAST_SCRYPT };
    const se = await openFileSecureElement({ path, crypto, secret });
    const { keyId, publicKey } = await se.createEndpoint();
    const s = setup();
    await se.setupEndpoint(keyId, s);
    const file = await readFile(path, "utf8");
    for (const secretValue of [s.kenc, s.krmac]) expect(file).not.toContain(toHex(secretValue));
    expect(file).not.toContain("privateKey");

    const reopened = await openFileSecureElement({ path, crypto, secret });
    const signature = await reopened.sign(keyId, utf8("after restart"));
    expect(crypto.ecdsaVerify(publicKey, utf8("after restart"), signature)).toBe(true);
    expect(toHex(await reopened.receiptMac(keyId, utf8("r")))).toBe(
      toHex(crypto.hmacSha256(s.krmac, utf8("r"))),
    );
  });

  it("refuses a wrong passphrase and an altered file", async () => {
    const path = await tempPath();
    const se = await openFileSecureElement({
      path,
      crypto,
      secret: { passphrase: "right", scrypt: FAST_SCRYPT },
    });
    await se.createEndpoint();
    await expect(
      openFileSecureElement({ path, crypto, secret: { passphrase: "wrong", scrypt: FAST_SCRYPT } }),
    ).rejects.toMatchObject({ code: "SE_UNLOCK_FAILED" });
    const file = JSON.parse(await readFile(path, "utf8"));
    file.kdf.N = 2; // a weaker KDF header is authenticated data: swapping it breaks the tag
    await writeFile(path, JSON.stringify(file));
    await expect(
      openFileSecureElement({ path, crypto, secret: { passphrase: "right", scrypt: FAST_SCRYPT } }),
    ).rejects.toBeInstanceOf(SecureElementError);
  });

  it("refuses a malformed file with SE_STATE_CORRUPT, never a TypeError", async () => {
    const path = await tempPath();
    const secret = { passphrase: "right", scrypt: FAST_SCRYPT };
    await (await openFileSecureElement({ path, crypto, secret })).createEndpoint();
    const good = JSON.parse(await readFile(path, "utf8"));
    const variants: unknown[] = [
      { format: "pairkit-se-file/v1" },
      { ...good, kdf: undefined },
      { ...good, kdf: { name: "scrypt", N: 1024, r: 8, p: 1 } },
      { ...good, kdf: { ...good.kdf, salt: "zz".repeat(16) } },
      { ...good, kdf: { ...good.kdf, salt: "00".repeat(15) } },
      { ...good, kdf: { ...good.kdf, salt: 7 } },
      { ...good, kdf: { ...good.kdf, r: 0 } },
      { ...good, kdf: { ...good.kdf, N: "1024" } },
      { ...good, kdf: { ...good.kdf, name: "pbkdf2" } },
      { ...good, nonce: undefined },
      { ...good, nonce: "00" },
      { ...good, ciphertext: "00".repeat(15) },
      { ...good, ciphertext: "0" },
      { ...good, format: "pairkit-se-file/v2" },
      [good],
      null,
      "pairkit-se-file/v1",
    ];
    for (const variant of variants) {
      await writeFile(path, JSON.stringify(variant) ?? "");
      await expect(
        openFileSecureElement({ path, crypto, secret }),
        JSON.stringify(variant),
      ).rejects.toMatchObject({
        name: "SecureElementError",
        code: "SE_STATE_CORRUPT",
      });
    }
    await writeFile(path, "{not json");
    await expect(openFileSecureElement({ path, crypto, secret })).rejects.toMatchObject({
      code: "SE_STATE_CORRUPT",
    });
  });

  it("gives a SecureElementError for any change to a file's JSON (fast-check)", async () => {
    const path = await tempPath();
    const secret = { passphrase: "right", scrypt: { N: 2, r: 1, p: 1 } };
    await (await openFileSecureElement({ path, crypto, secret })).createEndpoint();
    const good = JSON.parse(await readFile(path, "utf8"));
    const field = fc.constantFrom(
      "format",
      "nonce",
      "ciphertext",
      "kdf",
      "kdf.name",
      "kdf.salt",
      "kdf.N",
      "kdf.r",
    );
    await fc.assert(
      fc.asyncProperty(field, fc.jsonValue({ maxDepth: 2 }), async (name, value) => {
        const file = structuredClone(good);
        const [outer, inner] = name.split(".") as [string, string | undefined];
        if (inner === undefined) file[outer] = value;
        else file[outer][inner] = value;
        await writeFile(path, JSON.stringify(file));
        try {
          await openFileSecureElement({ path, crypto, secret });
        } catch (error) {
          expect(error).toBeInstanceOf(SecureElementError);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("refuses to open with a key file that cannot be read: SE_UNLOCK_FAILED", async () => {
    const path = await tempPath();
    const keyFile = `${path}.key`;
    await writeFile(keyFile, crypto.randomBytes(32));
    await (await openFileSecureElement({ path, crypto, secret: { keyFile } })).createEndpoint();
    await rm(keyFile);
    await expect(openFileSecureElement({ path, crypto, secret: { keyFile } })).rejects.toMatchObject({
      name: "SecureElementError",
      code: "SE_UNLOCK_FAILED",
    });
  });

  it("works with a key file instead of a passphrase", async () => {
    const path = await tempPath();
    const keyFile = `${path}.key`;
    await writeFile(keyFile, crypto.randomBytes(32));
    const se = await openFileSecureElement({ path, crypto, secret: { keyFile } });
    const { keyId } = await se.createEndpoint();
    const reopened = await openFileSecureElement({ path, crypto, secret: { keyFile } });
    expect(await reopened.getEndpoint(keyId)).toBeDefined();
    await writeFile(keyFile, crypto.randomBytes(32));
    await expect(openFileSecureElement({ path, crypto, secret: { keyFile } })).rejects.toMatchObject({
      code: "SE_UNLOCK_FAILED",
    });
  });
});
