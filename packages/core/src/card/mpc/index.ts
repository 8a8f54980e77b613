// MPC over the Active Card session (docs/protocol.md §4.11): FROST (RFC 9591) wallets that the
// phone and the card hold jointly.
export * from "./card-wallets.ts";
export * from "./ciphersuite.ts";
export * from "./errors.ts";
export * from "./recovery-kit.ts";
export * from "./transcript.ts";
export * from "./wallet.ts";
export * from "./wallet-encoding.ts";
export * from "./wallet-keystore.ts";
export * from "./wire.ts";
