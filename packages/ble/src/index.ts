export * from "./frame-channel.ts";
