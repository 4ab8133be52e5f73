import { hash, verify } from '@node-rs/argon2';
import { isKana, romajiSpellings } from './romaji';

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

type Estimator = { check(password: string, userInputs?: string[]): { score: number; sequence: object[] } };
/** What the check says of a dictionary match (zxcvbn's match types are a union of many). */
type WordMatch = { dictionaryName?: string; matchedWord?: string };
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

/** A company's kind before or after its name (株式会社むすび, むすび（株）): not a word of its own name. */
const COMPANY_KIND = /株式会社|有限会社|合同会社|合資会社|合名会社|一般社団法人|一般財団法人|社会保険労務士法人|税理士法人|[（(](株|有|同)[)）]/g;
/** Labels of an address's domain that name no one (co.jp, ne.jp …). */
const DOMAIN_KINDS = new Set(['co', 'ne', 'or', 'ac', 'go', 'ed', 'lg', 'gr', 'ad']);
/** How an address's local part is cut into pieces, and what a person puts between the pieces of a password. */
const SEPARATORS = /[\s@._+\-]+/;

/**
 * The words of a person's own name, address, company and their kana readings that someone would
 * build a password from: each piece (taro, yamada), the pieces run together in either order
 * (taroyamada, yamadataro), an address's whole local part (taro.yamada), and a kana reading in the
 * romaji people type (タロウ → tarou, taro). zxcvbn takes them as a dictionary of its own.
 */
export function personalWords(...values: (string | null | undefined)[]): string[] {
  const words = new Set<string>();
  const add = (w: string) => {
    // Latin pieces of three letters or more (two would match inside any word); kanji and kana from two.
    if (w.length >= 3 || (w.length === 2 && /[^\x00-\x7f]/.test(w))) words.add(w);
  };
  const addRun = (pieces: string[]) => {
    if (pieces.length < 2) return;
    add(pieces.join(''));
    add([...pieces].reverse().join(''));
  };
  for (const value of values) {
    if (!value) continue;
    let text = value.normalize('NFKC').toLowerCase().replace(COMPANY_KIND, ' ').trim();
    const at = text.lastIndexOf('@');
    if (at > 0) {
      const local = text.slice(0, at);
      add(local);
      const labels = text.slice(at + 1).split('.');
      text = [local, ...labels.slice(0, -1).filter((l) => !DOMAIN_KINDS.has(l))].join(' ');
      addRun(local.split(SEPARATORS).filter(Boolean));
    }
    const pieces = text.split(SEPARATORS).filter(Boolean);
    pieces.forEach(add);
    if (at <= 0) addRun(pieces);
    // A reading in kana (ヤマダ タロウ, むすび): the romaji too, each spelling, and run together.
    if (pieces.length && pieces.every(isKana)) {
      const spelled = pieces.map(romajiSpellings);
      spelled.flat().forEach(add);
      for (let v = 0; v < 3; v++) addRun(spelled.map((s) => s[Math.min(v, s.length - 1)]!).filter(Boolean));
    }
  }
  return [...words];
}

/** The password with the person's own words taken out (longest first, any case), or null when it holds none of them. */
function withoutOwnWords(password: string, personal: readonly string[]): string | null {
  let rest = password.normalize('NFKC');
  let found = false;
  for (const w of [...personal].sort((a, b) => b.length - a.length)) {
    const re = new RegExp(w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'giu');
    if (re.test(rest)) { found = true; rest = rest.replace(re, ' '); }
  }
  return found ? rest.replace(/\s+/g, ' ').trim() : null;
}

/**
 * The reason a new password is refused, or null. Beyond the length, a password that a cracker's
 * dictionary, keyboard walks, dates, repeats or the person's own name and address would find soon
 * (「password1234」「qwertyuiop12」「taro.yamada2024」) is refused.
 *
 * zxcvbn counts each further piece of a password as some 10^4 guesses more, so 「x」+「taroyamada」+「1985」
 * passes its bar as three pieces though an attacker who knows the person tries it early: a password
 * holding the person's own words must be strong without them too.
 */
export async function passwordProblem(password: string, personal: readonly string[] = []): Promise<string | null> {
  if (password.length < PASSWORD_MIN) return 'password.tooShort';
  if (password.length > PASSWORD_MAX) return 'password.tooLong';
  const z = await loadEstimator();
  const inputs = [...personal, 'akatsuki', 'portal', 'mynumber'];
  const own = new Set(personal);
  const verdict = z.check(password, inputs);
  if (verdict.score < MIN_SCORE) {
    return verdict.sequence.some((m: WordMatch) => m.dictionaryName === 'userInputs' && m.matchedWord !== undefined && own.has(m.matchedWord)) ? 'password.personal' : 'password.guessable';
  }
  const rest = withoutOwnWords(password.slice(0, ESTIMATED_CHARS), personal);
  if (rest !== null && (rest.length === 0 || z.check(rest, inputs).score < MIN_SCORE)) return 'password.personal';
  return null;
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
