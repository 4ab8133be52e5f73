import { createLocalStorage } from './local';

/**
 * Where encrypted objects live. The file-exchange work extends this interface (write, read,
 * delete, stat, list); for now the portal needs to know that its storage answers.
 */
export interface StorageAdapter {
  readonly kind: 'local' | 's3';
  /** Resolves when the storage can be written to; rejects otherwise. */
  check(): Promise<void>;
}

export function createStorage(config: { storageDir: string }): StorageAdapter {
  return createLocalStorage(config.storageDir);
}
