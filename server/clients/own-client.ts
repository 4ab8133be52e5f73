import { Client, type User } from '../db/models';

const read = new WeakMap<User, Promise<Client | null>>();

/**
 * The client a client admin or employee belongs to, read once per request: the layout asks (is
 * TOTP owed?) and so does the page. Passport makes the user object afresh for every request, so
 * an answer kept on it cannot outlive the request that read it.
 */
export function ownClient(user: User): Promise<Client | null> {
  if (!user.clientId) return Promise.resolve(null);
  let client = read.get(user);
  if (!client) {
    client = Client.findByPk(user.clientId);
    read.set(user, client);
    client.catch(() => read.delete(user)); // a failed read is not kept: the next ask reads again
  }
  return client;
}
