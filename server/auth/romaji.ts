/**
 * Kana → the romaji people type for their own name (ヤマダ タロウ → yamada, tarou, taro), for the
 * password check's list of the person's own words. Only the spellings a person would type are
 * needed, not a full transliterator: Hepburn as typed (tarou), passport Hepburn with long vowels
 * dropped (taro), and kunrei (si, ti, tu, hu, zi) as an IME takes it. A small table rather than a
 * dependency: no library gives the three spellings, and this is all the portal converts.
 */

const BASE: Record<string, string> = {
  あ: 'a', い: 'i', う: 'u', え: 'e', お: 'o',
  か: 'ka', き: 'ki', く: 'ku', け: 'ke', こ: 'ko', が: 'ga', ぎ: 'gi', ぐ: 'gu', げ: 'ge', ご: 'go',
  さ: 'sa', し: 'shi', す: 'su', せ: 'se', そ: 'so', ざ: 'za', じ: 'ji', ず: 'zu', ぜ: 'ze', ぞ: 'zo',
  た: 'ta', ち: 'chi', つ: 'tsu', て: 'te', と: 'to', だ: 'da', ぢ: 'ji', づ: 'zu', で: 'de', ど: 'do',
  な: 'na', に: 'ni', ぬ: 'nu', ね: 'ne', の: 'no',
  は: 'ha', ひ: 'hi', ふ: 'fu', へ: 'he', ほ: 'ho', ば: 'ba', び: 'bi', ぶ: 'bu', べ: 'be', ぼ: 'bo', ぱ: 'pa', ぴ: 'pi', ぷ: 'pu', ぺ: 'pe', ぽ: 'po',
  ま: 'ma', み: 'mi', む: 'mu', め: 'me', も: 'mo',
  や: 'ya', ゆ: 'yu', よ: 'yo',
  ら: 'ra', り: 'ri', る: 'ru', れ: 're', ろ: 'ro',
  わ: 'wa', ゐ: 'i', ゑ: 'e', を: 'o', ん: 'n', ゔ: 'vu',
  ぁ: 'a', ぃ: 'i', ぅ: 'u', ぇ: 'e', ぉ: 'o', ゃ: 'ya', ゅ: 'yu', ょ: 'yo', ゎ: 'wa',
};

/** A kana and a small ゃゅょ after it: きゃ kya, しゃ sha, ちゃ cha, じゃ ja … */
function digraph(first: string, small: string): string | null {
  const head = BASE[first];
  const tail = BASE[small];
  if (!head || !tail || !'ゃゅょ'.includes(small) || !head.endsWith('i') || head === 'i') return null;
  const stem = head.slice(0, -1);
  // shi → sh(a), chi → ch(a), ji → j(a): the y is not written
  return /^(sh|ch|j)$/.test(stem) ? stem + tail.slice(1) : stem + tail;
}

const KUNREI: [RegExp, string][] = [[/shi/g, 'si'], [/chi/g, 'ti'], [/tsu/g, 'tu'], [/fu/g, 'hu'], [/ji/g, 'zi'], [/sh/g, 'sy'], [/ch/g, 'ty'], [/j/g, 'zy']];

/** Whether a text is kana only (katakana, hiragana, the long mark), as a stored reading is. */
export function isKana(text: string): boolean {
  return /^[\u3041-\u3096\u30a1-\u30fa\u30fc]+$/.test(text);
}

/** One word of kana in Hepburn as typed (ou, uu kept): タロウ → tarou, キョウコ → kyouko. */
export function hepburn(kana: string): string {
  // katakana → hiragana (the long mark stays)
  const hira = [...kana.normalize('NFKC')].map((c) => (c >= '\u30a1' && c <= '\u30f6' ? String.fromCharCode(c.charCodeAt(0) - 0x60) : c));
  let out = '';
  let doubleNext = false;
  for (let i = 0; i < hira.length; i++) {
    const c = hira[i]!;
    if (c === 'っ') { doubleNext = true; continue; }
    if (c === 'ー') { out += out.slice(-1).replace(/[^aeiou]/, ''); continue; }
    const pair = i + 1 < hira.length ? digraph(c, hira[i + 1]!) : null;
    let syllable = pair ?? BASE[c] ?? '';
    if (pair) i++;
    if (doubleNext && syllable) syllable = (syllable.startsWith('ch') ? 't' : syllable[0]) + syllable;
    doubleNext = false;
    out += syllable;
  }
  return out;
}

/** The spellings a person may type for one kana word: Hepburn as typed, passport style (long vowels dropped), kunrei. */
export function romajiSpellings(kana: string): string[] {
  const typed = hepburn(kana);
  if (!typed) return [];
  const passport = typed.replace(/ou|oo/g, 'o').replace(/uu/g, 'u');
  const kunrei = KUNREI.reduce((s, [from, to]) => s.replace(from, to), typed);
  return [...new Set([typed, passport, kunrei])];
}
