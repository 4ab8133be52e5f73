import ja from './locales/ja.json' with { type: 'json' };
import en from './locales/en.json' with { type: 'json' };

export const LANGS = ['ja', 'en'] as const;
export type Lang = (typeof LANGS)[number];
export const DEFAULT_LANG: Lang = 'ja';

const catalogs: Record<Lang, Record<string, string>> = { ja, en };

export function isLang(v: unknown): v is Lang {
  return typeof v === 'string' && (LANGS as readonly string[]).includes(v);
}

/** Looks a key up in the UI language; `{{name}}` placeholders are filled from params. */
export function translate(lang: Lang, key: string, params: Record<string, unknown> = {}): string {
  const text = catalogs[lang][key] ?? catalogs[DEFAULT_LANG][key] ?? key;
  return text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => (params[name] === undefined ? '' : String(params[name])));
}

export function catalogKeys(lang: Lang): string[] {
  return Object.keys(catalogs[lang]);
}
