import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const WEB_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DIST = join(WEB_ROOT, "dist");
/** Everything the bundle is made of: the console, the workspace packages it imports, the locked dependencies. */
const SOURCES = [
  join(WEB_ROOT, "index.html"),
  fileURLToPath(new URL("../../../../package-lock.json", import.meta.url)),
  join(WEB_ROOT, "src"),
  fileURLToPath(new URL("../../../core/src", import.meta.url)),
  fileURLToPath(new URL("../../../ble/src", import.meta.url)),
];

let building: Promise<string> | undefined;

/**
 * The built console's directory (packages/web/dist), built with Vite first when it is missing or
 * older than any source. `pairkit serve` and the browser tests call it; concurrent callers in one
 * process share a build, and a build lands in a temporary directory that replaces dist whole.
 */
export function ensureConsoleBuilt(): Promise<string> {
  building ??= buildIfStale().finally(() => {
    building = undefined;
  });
  return building;
}

async function buildIfStale(): Promise<string> {
  if (await fresh()) return DIST;
  // Another process (a second `pairkit serve`, a parallel test file) may be building: one builds,
  // the others wait for it and then find dist fresh, so nobody swaps dist under a running server.
  const release = await lock();
  try {
    if (await fresh()) return DIST;
    return await buildDist();
  } finally {
    await release();
  }
}

async function fresh(): Promise<boolean> {
  const built = await mtime(join(DIST, "index.html"));
  return built !== undefined && built >= (await newest(SOURCES));
}

const LOCK = `${DIST}.lock`;
/** A build takes seconds; a lock older than this was left by a process that died mid-build. */
const STALE_LOCK_MS = 120_000;

async function lock(): Promise<() => Promise<void>> {
  for (;;) {
    try {
      await mkdir(LOCK);
      return () => rm(LOCK, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const since = await mtime(LOCK);
      if (since !== undefined && Date.now() - since > STALE_LOCK_MS)
        await rm(LOCK, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function buildDist(): Promise<string> {
  const { build } = await import("vite");
  const staging = `${DIST}.build-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    await build({
      root: WEB_ROOT,
      configFile: false,
      logLevel: "warn",
      base: "/",
      build: {
        outDir: staging,
        emptyOutDir: true,
        target: "es2022",
        sourcemap: true,
        reportCompressedSize: false,
        chunkSizeWarningLimit: 1024,
      },
    });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  await rm(DIST, { recursive: true, force: true });
  await rename(staging, DIST);
  return DIST;
}

async function mtime(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function newest(paths: readonly string[]): Promise<number> {
  let latest = 0;
  for (const path of paths) {
    const info = await stat(path);
    if (!info.isDirectory()) latest = Math.max(latest, info.mtimeMs);
    else {
      const entries = await readdir(path, { withFileTypes: true });
      latest = Math.max(latest, info.mtimeMs, await newest(entries.map((e) => join(path, e.name))));
    }
  }
  return latest;
}
