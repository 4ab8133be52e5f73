import { maskNumberRuns } from '../vault/my-number';

/**
 * The name a file is shown under. It is only ever shown (escaped) and put in Content-Disposition;
 * storage uses server-made ids. Still, path parts, control and bidi characters and runaway lengths
 * are removed so the name cannot mislead a reader ("invoice‮fdp.exe") or break a header.
 */
const MAX_LENGTH = 200;
// C0/C1 controls, DEL, bidi embeddings/overrides/isolates and marks, zero-width characters, BOM.
const UNWANTED = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

export function cleanDisplayName(original: string | undefined | null): string {
  // A card photo named after the number on it: the name is shown and logged, the number must not be.
  let name = maskNumberRuns((original ?? '').normalize('NFC').replace(UNWANTED, ''));
  name = name.split(/[\\/]/).pop() ?? '';
  name = name.replace(/\s+/g, ' ').trim().replace(/^\.+/, '').trim();
  if (!name) name = 'file';
  if ([...name].length > MAX_LENGTH) {
    const chars = [...name];
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 10 ? [...name.slice(dot)] : [];
    name = chars.slice(0, MAX_LENGTH - ext.length).join('') + ext.join('');
  }
  return name;
}

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** RFC 6266 / RFC 5987: an ASCII fallback plus the UTF-8 name, so Japanese names survive every browser. */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_') || 'file';
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
