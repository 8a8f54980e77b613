// Active Card pairing (seed 002): wire codec, QR payload, the phone side, and the pieces the
// card firmware simulator (@pairkit/sim) shares with it.
export * from "./advertisement-hint.ts";
export * from "./channel.ts";
export * from "./checks.ts";
export * from "./errors.ts";
export * from "./failures.ts";
export * from "./gen/pairkit/activecard/v1/active_card_pb.ts";
export * from "./mpc/index.ts";
export * from "./paired-card-store.ts";
export * from "./phone.ts";
export * from "./qr-image.ts";
export * from "./qr-payload.ts";
export * from "./signed-messages.ts";
export * from "./wrapper-codec.ts";
