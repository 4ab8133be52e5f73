import { hash, verify } from '@node-rs/argon2';

/** OWASP's argon2id setting (19 MiB, 2 passes, 1 lane). */
// algorithm 2 is Argon2id (a const enum in the package's types, which isolatedModules cannot import)
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN = 12;
/** Longer input is refused before hashing, so a huge password costs the server nothing. */
export const PASSWORD_MAX = 256;
/** zxcvbn's score 3: "safely unguessable", fewer than 10^10 guesses ruled out. */
const MIN_SCORE = 3;
/** The estimator's time grows fast with length (~2 s for 256 characters); its verdict on the first 32 stands for the rest. */
const ESTIMATED_CHARS = 32;
/** The dictionaries take ~30 MiB of heap: loaded on the first password set, let go when none has been set for a while. */
const KEEP_ESTIMATOR_MS = 10 * 60_000;

type Estimator = { check(password: string, userInputs?: string[]): { score: number } };
let estimator: Promise<Estimator> | null = null;
let releaseTimer: NodeJS.Timeout | null = null;

function loadEstimator(): Promise<Estimator> {
  estimator ??= (async () => {
    const [{ ZxcvbnFactory }, common, en, ja] = await Promise.all([
      import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common'), import('@zxcvbn-ts/language-en'), import('@zxcvbn-ts/language-ja'),
    ]);
    return new ZxcvbnFactory({
      dictionary: { ...common.dictionary, ...en.dictionary, ...ja.dictionary },
      graphs: common.adjacencyGraphs,
      maxLength: ESTIMATED_CHARS,
    });
  })();
  if (releaseTimer) clearTimeout(releaseTimer);
  releaseTimer = setTimeout(() => { estimator = null; }, KEEP_ESTIMATOR_MS).unref();
  return estimator;
}

/** The words of a name or an address someone would build a password from (the parts of an address's local part too). */
export function personalWords(...values: (string | null | undefined)[]): string[] {
  const words = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    for (const part of value.normalize('NFKC').toLowerCase().split(/[\s@._+-]+/)) {
      if (part.length >= 3) words.add(part);
    }
  }
  return [...words];
}

/**
 * The reason a new password is refused, or null. Beyond the length, a password that a cracker's
 * dictionary, keyboard walks, dates, repeats or the person's own name and address would find soon
 * (「password1234」「qwertyuiop12」) is refused.
 */
export async function passwordProblem(password: string, personal: readonly string[] = []): Promise<string | null> {
  if (password.length < PASSWORD_MIN) return 'password.tooShort';
  if (password.length > PASSWORD_MAX) return 'password.tooLong';
  const { score } = (await loadEstimator()).check(password, [...personal, 'akatsuki', 'portal', 'mynumber']);
  return score < MIN_SCORE ? 'password.guessable' : null;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

// Verified against when the account does not exist, so both cases take the same time.
let dummyHash: Promise<string> | null = null;

export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (password.length > PASSWORD_MAX) return false;
  if (!storedHash) {
    dummyHash ??= hash('not-a-real-password-000', OPTIONS);
    await verify(await dummyHash, password);
    return false;
  }
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}
