/**
 * Made-up but realistic audit rows for the report and log benchmarks: staff revealing My Numbers
 * of a client's employees for a procedure and an office, through the web screen. The rows are not
 * chained (random 64-hex hash / prevHash): the bench databases are thrown away and never verified.
 */
import { randomBytes } from 'node:crypto';
import { OFFICES, PROCEDURES } from '../../server/domain/purposes';

/** A small deterministic PRNG (mulberry32), so every run fills the same data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

const SURNAMES = ['佐藤', '鈴木', '高橋', '田中', '伊藤', '渡辺', '山本', '中村', '小林', '加藤', '吉田', '山田', '佐々木', '山口', '松本', '井上', '木村', '林', '斎藤', '清水'] as const;
const GIVEN = ['太郎', '花子', '一郎', '美咲', '健太', '陽菜', '翔太', '結衣', '大輔', 'さくら', '直樹', '愛', '拓也', '彩', '誠', '優子'] as const;

/** 山田 太郎 and the like. */
export const personName = (rand: () => number) => `${pick(rand, SURNAMES)} ${pick(rand, GIVEN)}`;

/** E0001… */
export const employeeCode = (n: number) => `E${String(n).padStart(4, '0')}`;

export const REVEAL_CHANNEL = 'web:/firm/clients/:clientId/numbers/:recordId/reveal';
export const USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';

export interface Actor { id: string; name: string }
export interface Person { id: string; code: string; name: string }

/** A vault.reveal row's fields (the caller adds seq, at, client, hashes). */
export function revealFields(rand: () => number, actor: Actor, person: Person) {
  return {
    actorId: actor.id, actorName: actor.name, actorRole: 'firm_staff',
    targetKind: 'employee', targetId: person.id, targetLabel: `${person.code} ${person.name}`,
    operation: 'vault.reveal', channel: REVEAL_CHANNEL,
    ip: `192.0.2.${1 + Math.floor(rand() * 20)}`, userAgent: USER_AGENT,
    purpose: pick(rand, PROCEDURES), office: pick(rand, OFFICES), result: 'allowed' as const, detail: null,
  };
}

/** `n` made-up 64-hex hashes from one random buffer. */
export function fakeHashes(n: number): string[] {
  const hex = randomBytes(32 * n).toString('hex');
  return Array.from({ length: n }, (_, i) => hex.slice(i * 64, i * 64 + 64));
}

/** `n` instants spread over [start, end), ascending (even steps with a random offset inside each). */
export function spreadTimes(rand: () => number, start: Date, end: Date, n: number): Date[] {
  const step = (end.getTime() - start.getTime()) / n;
  return Array.from({ length: n }, (_, i) => new Date(Math.floor(start.getTime() + (i + rand()) * step)));
}

export const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
export const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
