import type { AuditEntry, Keychain, PairingLog, PairingLogEntry } from "./ports.ts";

/** A keychain in memory: for tests and for apps that bring no platform keychain. */
export class MemoryKeychain implements Keychain {
  readonly #items = new Map<string, string>();
  readonly #audit: AuditEntry[] = [];

  async get(name: string): Promise<string | undefined> {
    return this.#items.get(name);
  }

  async set(name: string, value: string): Promise<void> {
    this.#items.set(name, value);
  }

  async delete(name: string): Promise<void> {
    this.#items.delete(name);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.#audit.push({ ...entry });
  }

  async auditEntries(): Promise<readonly AuditEntry[]> {
    return [...this.#audit];
  }
}

export class MemoryPairingLog implements PairingLog {
  readonly #entries: PairingLogEntry[] = [];

  async append(entry: PairingLogEntry): Promise<void> {
    this.#entries.push({ ...entry });
  }

  async entries(): Promise<readonly PairingLogEntry[]> {
    return [...this.#entries];
  }
}
