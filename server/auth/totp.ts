import { generateSecret, generateURI, verify, generate, ScureBase32Plugin } from 'otplib';

/** RFC 6238 TOTP, SHA-1, 6 digits, 30 s: what every authenticator app understands. */
const PERIOD = 30;
/** one step either side, for clocks a little off; never more */
const TOLERANCE_SECONDS = PERIOD;

export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** A seed from 20 bytes the caller derived (base32, as apps take it). */
export function totpSecretFrom(bytes: Uint8Array): string {
  if (bytes.length !== 20) throw new Error('a TOTP seed is 20 bytes');
  return new ScureBase32Plugin().encode(bytes);
}

export function totpUri(secret: string, accountLabel: string, issuer: string): string {
  return generateURI({ secret, label: accountLabel, issuer });
}

/**
 * Checks a code against the server's clock. Returns the time step it matched, which the caller
 * stores so the same code (or an older one) never works again; null when it does not match.
 */
export async function checkTotp(secret: string, token: string, lastStep: number | null, nowMs = Date.now()): Promise<number | null> {
  // Full-width digits (a Japanese IME's default) and the space or hyphen some apps show in the middle.
  const code = token.normalize('NFKC').replace(/[\s-]+/g, '');
  if (!/^\d{6}$/.test(code)) return null;
  const result = await verify({
    secret,
    token: code,
    epoch: Math.floor(nowMs / 1000),
    epochTolerance: TOLERANCE_SECONDS,
    ...(lastStep !== null ? { afterTimeStep: lastStep } : {}),
  });
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}

/** For tests and the demo: the code an authenticator would show now. */
export function currentTotp(secret: string, nowMs = Date.now()): Promise<string> {
  return generate({ secret, epoch: Math.floor(nowMs / 1000) });
}
