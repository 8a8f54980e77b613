// Vehicle simulator: the reference peer for owner pairing and the standard transaction.
// Its MQTT vehicle-link binding is `@pairkit/sim/mqtt` (it pulls in @pairkit/server's client).

export * from "./ble-vehicle.ts";
export * from "./certificates.ts";
export * from "./endpoint-store.ts";
export * from "./vehicle.ts";
export * from "./vehicle-pairing.ts";
export * from "./vehicle-transaction.ts";
export * from "./verifier-store.ts";
