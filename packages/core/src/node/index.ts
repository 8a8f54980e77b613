/** Node-only entry of @pairkit/core: back-ends that need node:crypto or the file system. */
export { FilePairedCardStore } from "./file-paired-card-store.ts";
export {
  FileSecureElementVault,
  type FileVaultSecret,
  openFileSecureElement,
} from "./file-secure-element.ts";
export { nodeCrypto, nodeGroup } from "./node-crypto.ts";
export { readFileIfExists, writePrivateFileAtomically } from "./private-file.ts";
export { readQrFromPng } from "./qr-png.ts";
