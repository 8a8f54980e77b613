/** Node-only entry of @pairkit/core: back-ends that need node:crypto. */
export { nodeCrypto, nodeGroup } from "./node-crypto.ts";
export { readQrFromPng } from "./qr-png.ts";
