import type { AccountService } from '../../server/accounts/account-service';

/**
 * Sends `request` and holds it inside its handler, after its session was read (at the page's "is TOTP
 * owed?" question), runs `meanwhile`, then lets it finish; resolves to its status. For requests of a
 * session that something else ends or changes while they run.
 */
export async function heldDuring(accounts: AccountService, request: () => Promise<{ status: number }>, meanwhile: () => Promise<void>): Promise<number> {
  const original = accounts.needsTotp;
  let arrived!: () => void;
  let release!: () => void;
  const inHandler = new Promise<void>((r) => { arrived = r; });
  const gate = new Promise<void>((r) => { release = r; });
  accounts.needsTotp = async (user) => { arrived(); await gate; return original.call(accounts, user); };
  let held: Promise<{ status: number }>;
  try {
    held = request();
    await inHandler;
  } finally {
    accounts.needsTotp = original;
  }
  try {
    await meanwhile();
  } finally {
    release();
  }
  return (await held).status;
}
