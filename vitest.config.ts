import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "bench/test/**/*.test.ts"],
    // scrypt at N=32768 and the integration suites (database, broker, browser) are slow on a
    // 2-core CI machine; these limits catch hangs, they are not performance assertions.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
