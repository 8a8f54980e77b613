#!/usr/bin/env node
// The `pairkit` executable: packages have no build step, so the TypeScript entry runs through
// tsx's loader (Node 20 cannot load .ts files by itself).
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
