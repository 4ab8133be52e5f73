// fontkit 2 ships no type declarations; only the part this folder touches is described here.
declare module 'fontkit' {
  export interface Glyph {
    id: number;
    advanceWidth: number;
    codePoints: number[];
  }

  export interface Subset {
    /** Adds a glyph (or glyph id) to the subset and returns its id inside the subset. */
    includeGlyph(glyph: Glyph | number): number;
    /** fontkit 2: the whole subset font file at once (fontkit 1 had encodeStream()). */
    encode(): Uint8Array;
    /** set on CFF subsets only */
    cff?: unknown;
  }

  export interface Font {
    postscriptName: string;
    unitsPerEm: number;
    characterSet: number[];
    glyphForCodePoint(codePoint: number): Glyph;
    createSubset(): Subset;
  }

  export function create(buffer: Uint8Array, postscriptName?: string): Font;
}
