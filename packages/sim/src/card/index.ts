// Active Card firmware simulator (seed 002).

export * from "./card-mpc.ts";
export * from "./card-peripheral.ts";
export * from "./card-process.ts";
export * from "./card-simulator.ts";
export * from "./card-store.ts";
export * from "./file-card-store.ts";
export * from "./qr-display.ts";
export * from "./qr-render.ts";
