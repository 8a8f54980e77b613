import { toHex, wipe } from "../bytes.ts";
import type { Crypto, P256KeyPair } from "../crypto/crypto.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import { ApiError } from "./errors.ts";
import { type KeyAttestation, signKeyAttestation } from "./key-attestation.ts";
import type { PairingApi } from "./ports.ts";

export const LOCAL_KTS_URL = "local:kts";

/**
 * The PairingApi without a server: transactions are numbered locally and a local key plays
 * the KTS. For offline demos, the simulators and tests; a deployment uses the HTTP adapter.
 */
export class LocalPairingApi implements PairingApi {
  readonly ktsPublicKey: Uint8Array;
  readonly #kts: P256KeyPair;
  readonly #transactions = new Map<string, { sessionId: string; confirmed: boolean }>();
  readonly reported: Array<{ transactionId: string; keyAttestation: KeyAttestation }> = [];

  constructor(
    private readonly crypto: Crypto,
    private readonly clock: Clock = systemClock,
    ktsKey: P256KeyPair = crypto.generateKeyPair(),
  ) {
    this.#kts = ktsKey;
    this.ktsPublicKey = ktsKey.publicKey.slice();
  }

  /** Wipes the KTS private key. */
  destroy(): void {
    wipe(this.#kts.privateKey);
  }

  async startSession(request: { sessionId: string }): Promise<{ transactionId: string }> {
    const transactionId = toHex(this.crypto.randomBytes(16));
    this.#transactions.set(transactionId, { sessionId: request.sessionId, confirmed: false });
    return { transactionId };
  }

  async confirmConfig(request: { transactionId: string }): Promise<{ ktsEndpointUrl: string }> {
    this.#transaction(request.transactionId).confirmed = true;
    return { ktsEndpointUrl: LOCAL_KTS_URL };
  }

  async requestKeyAttestation(request: {
    ktsEndpointUrl: string;
    transactionId: string;
    keyId: Uint8Array;
    vehicleId: string;
    endpointPublicKey: Uint8Array;
  }): Promise<KeyAttestation> {
    if (request.ktsEndpointUrl !== LOCAL_KTS_URL)
      throw new ApiError("KTS_UNREACHABLE", "unknown KTS endpoint");
    if (!this.#transaction(request.transactionId).confirmed)
      throw new ApiError("CONFIG_NOT_CONFIRMED", "configuration not confirmed for this transaction");
    return signKeyAttestation(this.crypto, this.#kts.privateKey, {
      keyId: request.keyId,
      vehicleId: new TextEncoder().encode(request.vehicleId),
      endpointPublicKeyHash: this.crypto.sha256(request.endpointPublicKey),
      issuedAt: this.clock.now(),
    });
  }

  async reportKtsResponse(request: { transactionId: string; keyAttestation: KeyAttestation }): Promise<void> {
    this.#transaction(request.transactionId);
    this.reported.push(request);
  }

  #transaction(id: string): { sessionId: string; confirmed: boolean } {
    const t = this.#transactions.get(id);
    if (!t) throw new ApiError("UNKNOWN_TRANSACTION", "unknown transaction");
    return t;
  }
}
