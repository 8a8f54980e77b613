import { nobleCrypto } from "../src/index.ts";
import { nodeCrypto } from "../src/node/index.ts";

/** Every crypto test runs against both back-ends. */
export const backends = [nobleCrypto, nodeCrypto] as const;
