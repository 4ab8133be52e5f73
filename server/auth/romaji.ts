import { toRomaji } from 'wanakana';

/**
 * Kana → the romaji people type for their own name (ヤマダ タロウ → yamada, tarou, taro), for the
 * password check's list of the person's own words: Hepburn as an IME takes it (wanakana), passport
 * Hepburn with long vowels dropped (taro), and kunrei (si, ti, tu, hu, zi).
 */

const KUNREI: [RegExp, string][] = [[/shi/g, 'si'], [/chi/g, 'ti'], [/tsu/g, 'tu'], [/fu/g, 'hu'], [/ji/g, 'zi'], [/sh/g, 'sy'], [/ch/g, 'ty'], [/j/g, 'zy']];

/** Whether a text is kana only (katakana, hiragana, the long mark), as a stored reading is. */
export function isKana(text: string): boolean {
  return /^[\u3041-\u3096\u30a1-\u30fa\u30fc]+$/.test(text);
}

/** One word of kana in Hepburn as typed (ou, uu kept): タロウ → tarou, キョウコ → kyouko. */
export function hepburn(kana: string): string {
  return toRomaji(kana.normalize('NFKC'));
}

/** The spellings a person may type for one kana word: Hepburn as typed, passport style (long vowels dropped), kunrei. */
export function romajiSpellings(kana: string): string[] {
  const typed = hepburn(kana);
  if (!typed) return [];
  const passport = typed.replace(/ou|oo/g, 'o').replace(/uu/g, 'u');
  const kunrei = KUNREI.reduce((s, [from, to]) => s.replace(from, to), typed);
  return [...new Set([typed, passport, kunrei])];
}
