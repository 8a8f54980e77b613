export * from "./card/index.ts";
export * from "./vehicle/index.ts";
