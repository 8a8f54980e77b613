import { PairkitError } from "../../errors.ts";

/**
 * A wallet operation failed on this side, before or after talking to the card. Codes:
 * UNKNOWN_WALLET (no share for the wallet here), WRONG_CARD (the wallet belongs to another
 * card), BAD_OPTIONS (invalid createWallet/sign options), RECOVERY_KIT_MALFORMED,
 * RECOVERY_KIT_LOCKED (wrong passphrase or recovery key), KEYSTORE_CORRUPT.
 * The card's refusals are `CardRefusedError` (phase "mpc"), protocol breaks `CardProtocolError`.
 */
export class MpcError extends PairkitError {}
