export * from "./demo-fleet.ts";
export * from "./fleet-state.ts";
