import type { Crypto, P256KeyPair } from "@pairkit/core";
import { ECParameters, id_ecdsaWithSHA256, id_ecPublicKey, id_secp256r1 } from "@peculiar/asn1-ecc";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";

/**
 * The carmaker PKI as the simulator needs it: a root CA and vehicle certificates under it
 * (ECDSA P-256, SHA-256). Built with the ASN.1 schemas of @peculiar and signed through the
 * `Crypto` port, so the same DER comes out on every back-end.
 */
export interface CertificateAuthority {
  readonly name: string;
  readonly certificate: Uint8Array;
  readonly keyPair: P256KeyPair;
}

const DAY_MS = 86_400_000;

function commonName(cn: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: "2.5.4.3", value: new AttributeValue({ utf8String: cn }) }),
    ]),
  ]);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

function extension(id: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function sign(
  crypto: Crypto,
  input: {
    serial: Uint8Array;
    issuer: string;
    subject: string;
    publicKey: Uint8Array;
    notBefore: number;
    notAfter: number;
    ca: boolean;
    signingKey: Uint8Array;
  },
): Uint8Array {
  const algorithm = new AlgorithmIdentifier({ algorithm: id_ecdsaWithSHA256 });
  const keyUsage = input.ca
    ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign
    : KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement;
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(input.serial),
    signature: algorithm,
    issuer: commonName(input.issuer),
    validity: new Validity({ notBefore: new Date(input.notBefore), notAfter: new Date(input.notAfter) }),
    subject: commonName(input.subject),
    subjectPublicKeyInfo: new SubjectPublicKeyInfo({
      algorithm: new AlgorithmIdentifier({
        algorithm: id_ecPublicKey,
        parameters: AsnConvert.serialize(new ECParameters({ namedCurve: id_secp256r1 })),
      }),
      subjectPublicKey: toArrayBuffer(input.publicKey),
    }),
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: input.ca })),
      extension(id_ce_keyUsage, true, new KeyUsage(keyUsage)),
    ]),
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = crypto.ecdsaSign(input.signingKey, tbsDer);
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm,
    signatureValue: toArrayBuffer(signature),
  });
  return new Uint8Array(AsnConvert.serialize(cert));
}

function serialNumber(crypto: Crypto): Uint8Array {
  const serial = crypto.randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // positive INTEGER
  return serial;
}

export function createCarmakerCa(
  crypto: Crypto,
  options: { name?: string; now?: number; validityDays?: number } = {},
): CertificateAuthority {
  const name = options.name ?? "pairkit Carmaker Root CA";
  const now = options.now ?? Date.now();
  const keyPair = crypto.generateKeyPair();
  const certificate = sign(crypto, {
    serial: serialNumber(crypto),
    issuer: name,
    subject: name,
    publicKey: keyPair.publicKey,
    notBefore: now - DAY_MS,
    notAfter: now + (options.validityDays ?? 3650) * DAY_MS,
    ca: true,
    signingKey: keyPair.privateKey,
  });
  return { name, certificate, keyPair };
}

/** A vehicle identity certificate: CN = vehicle id, signed by the carmaker CA. */
export function issueVehicleCertificate(
  crypto: Crypto,
  ca: CertificateAuthority,
  options: { vehicleId: string; publicKey: Uint8Array; now?: number; validityDays?: number },
): Uint8Array {
  const now = options.now ?? Date.now();
  return sign(crypto, {
    serial: serialNumber(crypto),
    issuer: ca.name,
    subject: options.vehicleId,
    publicKey: options.publicKey,
    notBefore: now - DAY_MS,
    notAfter: now + (options.validityDays ?? 3650) * DAY_MS,
    ca: false,
    signingKey: ca.keyPair.privateKey,
  });
}
