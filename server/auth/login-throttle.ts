import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyRequests } from '../errors';

const ACCOUNT_IP_FAILURES = 5;
const IP_FAILURES = 100;

/**
 * Failed sign-ins are counted per (account, IP) and per IP. There is deliberately no per-account
 * counter across all IPs: that would let a stranger lock a real user out by guessing wrong.
 */
export class LoginThrottle {
  private readonly perAccountAndIp = new RateLimiterMemory({ keyPrefix: 'login_acct_ip', points: ACCOUNT_IP_FAILURES, duration: 15 * 60 });
  private readonly perIp = new RateLimiterMemory({ keyPrefix: 'login_ip', points: IP_FAILURES, duration: 60 * 60 });

  /** Throws TooManyRequests (with the seconds to wait) when either counter is spent. */
  async check(account: string, ip: string): Promise<void> {
    const [a, b] = await Promise.all([this.perAccountAndIp.get(key(account, ip)), this.perIp.get(ip)]);
    const spent: RateLimiterRes[] = [];
    if (a && a.consumedPoints >= ACCOUNT_IP_FAILURES) spent.push(a);
    if (b && b.consumedPoints >= IP_FAILURES) spent.push(b);
    if (spent.length > 0) throw new TooManyRequests(Math.max(1, ...spent.map((r) => Math.ceil(r.msBeforeNext / 1000))));
  }

  async fail(account: string, ip: string): Promise<void> {
    await Promise.all([this.perAccountAndIp.penalty(key(account, ip), 1), this.perIp.penalty(ip, 1)]);
  }

  async succeed(account: string, ip: string): Promise<void> {
    await this.perAccountAndIp.delete(key(account, ip));
  }
}

const key = (account: string, ip: string) => `${account.trim().toLowerCase()}|${ip}`;
