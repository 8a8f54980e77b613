import { randomUUID } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";

/** The file's text, or undefined when there is no such file (any other failure is thrown). */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Replaces `path` with `text`, readable by the owner only (it holds keys): written to a fresh
 * temporary file, synced, and renamed over the old one, so a crash leaves the old state or the
 * new one, never half of either.
 */
export async function writePrivateFileAtomically(path: string, text: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  const handle = await open(temporary, "wx", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
}
