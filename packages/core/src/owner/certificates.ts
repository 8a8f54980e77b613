import { ECParameters, id_ecdsaWithSHA256, id_ecPublicKey, id_secp256r1 } from "@peculiar/asn1-ecc";
import { AsnConvert } from "@peculiar/asn1-schema";
import { BasicConstraints, Certificate, id_ce_basicConstraints, type Name } from "@peculiar/asn1-x509";
import { concatBytes, constantTimeEqual, fromHex } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { PairkitError } from "../errors.ts";

/** The vehicle's certificate chain does not lead to a trusted carmaker CA, or does not name this vehicle. */
export class CertificateError extends PairkitError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super("CERTIFICATE_INVALID", `vehicle certificate: ${reason}`, options);
  }
}

const COMMON_NAME = "2.5.4.3";
/** AlgorithmIdentifier { ecdsa-with-SHA256 } without parameters (RFC 5758 §3.2). */
const ECDSA_WITH_SHA256_DER = fromHex("300a06082a8648ce3d040302");

interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly cert: Certificate;
  /** The TBSCertificate exactly as received: signatures cover these bytes, not a re-encoding. */
  readonly tbs: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Offset and total length of the DER element starting at `offset`; strict definite lengths only. */
function derElement(bytes: Uint8Array, offset: number): { end: number; contentStart: number } {
  // Certificate and TBSCertificate are both SEQUENCEs; a lenient parser would accept other tags.
  if (bytes[offset] !== 0x30) throw new CertificateError("not a DER SEQUENCE");
  const first = bytes[offset + 1];
  if (first === undefined) throw new CertificateError("truncated DER");
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n < 1 || n > 3) throw new CertificateError("unsupported DER length");
    length = 0;
    for (let i = 0; i < n; i++) {
      const b = bytes[offset + 2 + i];
      if (b === undefined) throw new CertificateError("truncated DER");
      length = length * 256 + b;
    }
    header += n;
  }
  const end = offset + header + length;
  if (end > bytes.length) throw new CertificateError("truncated DER");
  return { end, contentStart: offset + header };
}

function parse(der: Uint8Array): ParsedCertificate {
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch (cause) {
    throw new CertificateError("not a DER X.509 certificate", { cause });
  }
  const outer = derElement(der, 0);
  if (outer.end !== der.length) throw new CertificateError("trailing bytes");
  const tbsEnd = derElement(der, outer.contentStart).end;
  const tbs = der.slice(outer.contentStart, tbsEnd);
  // The signature does not cover what follows the TBSCertificate, so that part must be exactly
  // the one DER encoding of ecdsa-with-SHA256 and the signature: no alternative tags, no unused bits.
  const signature = new Uint8Array(cert.signatureValue);
  if (signature.length > 72) throw new CertificateError("signature too long");
  const expectedTail = concatBytes(
    ECDSA_WITH_SHA256_DER,
    Uint8Array.of(0x03, signature.length + 1, 0x00),
    signature,
  );
  if (!constantTimeEqual(der.subarray(tbsEnd), expectedTail)) throw new CertificateError("not in DER");
  const spki = cert.tbsCertificate.subjectPublicKeyInfo;
  let curve: string | undefined;
  try {
    if (spki.algorithm.parameters)
      curve = AsnConvert.parse(spki.algorithm.parameters, ECParameters).namedCurve;
  } catch (cause) {
    throw new CertificateError("key parameters malformed", { cause });
  }
  if (spki.algorithm.algorithm !== id_ecPublicKey || curve !== id_secp256r1)
    throw new CertificateError("key is not ECDSA P-256");
  const publicKey = new Uint8Array(spki.subjectPublicKey);
  if (publicKey.length !== 65 || publicKey[0] !== 0x04)
    throw new CertificateError("key is not SEC1 uncompressed");
  return { der, cert, tbs, publicKey };
}

function nameBytes(name: Name): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(name));
}

function commonName(cert: Certificate): string | undefined {
  for (const rdn of cert.tbsCertificate.subject)
    for (const attr of rdn) if (attr.type === COMMON_NAME) return attr.value.toString();
  return undefined;
}

function isCa(cert: Certificate): boolean {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_basicConstraints);
  if (!ext) return false;
  try {
    return AsnConvert.parse(ext.extnValue, BasicConstraints).cA;
  } catch {
    return false;
  }
}

function checkSignedBy(
  crypto: Crypto,
  subject: ParsedCertificate,
  issuer: ParsedCertificate,
  now: number,
): void {
  const tbs = subject.cert.tbsCertificate;
  if (
    subject.cert.signatureAlgorithm.algorithm !== id_ecdsaWithSHA256 ||
    tbs.signature.algorithm !== id_ecdsaWithSHA256
  )
    throw new CertificateError("signature algorithm is not ecdsa-with-SHA256");
  if (!constantTimeEqual(nameBytes(tbs.issuer), nameBytes(issuer.cert.tbsCertificate.subject)))
    throw new CertificateError("issuer name does not match");
  if (!isCa(issuer.cert)) throw new CertificateError("issuer is not a CA");
  let valid = false;
  try {
    valid = crypto.ecdsaVerify(issuer.publicKey, subject.tbs, new Uint8Array(subject.cert.signatureValue));
  } catch (cause) {
    throw new CertificateError("signature malformed", { cause });
  }
  if (!valid) throw new CertificateError("signature does not verify");
  checkValidity(subject, now);
}

function checkValidity(c: ParsedCertificate, now: number): void {
  const { notBefore, notAfter } = c.cert.tbsCertificate.validity;
  if (now < notBefore.getTime().getTime() || now > notAfter.getTime().getTime())
    throw new CertificateError("outside its validity period");
}

/**
 * Verifies `chain` (leaf first, root excluded) up to one of `trustAnchors` (the carmaker CA
 * certificates the app ships with) at time `now`, and that the leaf's common name is
 * `vehicleId`. Returns the vehicle's identity public key (SEC1 uncompressed).
 */
export function verifyVehicleCertificateChain(
  crypto: Crypto,
  input: {
    readonly chain: readonly Uint8Array[];
    readonly trustAnchors: readonly Uint8Array[];
    readonly vehicleId: string;
    readonly now: number;
  },
): Uint8Array {
  if (input.chain.length === 0) throw new CertificateError("empty chain");
  const chain = input.chain.map(parse);
  const anchors = input.trustAnchors.map(parse);
  const leaf = chain[0]!;
  if (commonName(leaf.cert) !== input.vehicleId) throw new CertificateError("does not name this vehicle");
  for (let i = 0; i + 1 < chain.length; i++) checkSignedBy(crypto, chain[i]!, chain[i + 1]!, input.now);
  const top = chain[chain.length - 1]!;
  const issuerName = nameBytes(top.cert.tbsCertificate.issuer);
  const anchor = anchors.find((a) => constantTimeEqual(nameBytes(a.cert.tbsCertificate.subject), issuerName));
  if (!anchor) throw new CertificateError("no trusted carmaker CA issued it");
  checkSignedBy(crypto, top, anchor, input.now);
  checkValidity(anchor, input.now);
  return leaf.publicKey.slice();
}
