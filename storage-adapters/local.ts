import fs from 'node:fs/promises';
import { constants } from 'node:fs';
import type { StorageAdapter } from './index';

/** Objects as files under one folder on local disk (the default). */
export function createLocalStorage(root: string): StorageAdapter {
  return {
    kind: 'local',
    async check() {
      await fs.mkdir(root, { recursive: true, mode: 0o700 });
      await fs.access(root, constants.W_OK | constants.R_OK);
    },
  };
}
