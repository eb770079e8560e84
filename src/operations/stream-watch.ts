import type { Logger } from 'pino';
import type { Operation } from '../domain/operation.js';
import type { RedisClient } from '../redis.js';
import type { RisUpdate } from '../routing/ris-live.js';
import type { Dispatcher } from './ports.js';
import { eventItem, type OperationStore } from './store.js';

const CLOUDFLARE_ASN = 13335;

/**
 * The request watch's ear on RIS Live: during an advertise or withdraw watch, the first collector peer that shows
 * the change (an announcement of the prefix from AS13335, or its withdrawal) gets one thread reply within moments.
 * It decides nothing: the watcher's looking-glass ticks still give the verdict (watcher.ts is unchanged).
 */
export class StreamWatch {
  /** Requests this instance has already told (no Redis round trip for the rest of a burst). */
  private told = new Set<string>();
  /** Replies posted by this instance (tests, bench). */
  posted = 0;

  constructor(
    private deps: { store: OperationStore; dispatcher: Dispatcher; redis: RedisClient; keyPrefix: string; logger: Logger; now?: () => number },
  ) {}

  onUpdate(u: RisUpdate): void {
    void this.handle(u).catch((err: unknown) => this.deps.logger.warn({ err }, 'stream watch: could not post the first sighting'));
  }

  /** The request holding `prefix` (its lock), when it is an advertise or withdraw being watched. */
  private async watching(prefix: string): Promise<Operation | null> {
    const id = await this.deps.store.lockHolder(prefix);
    if (!id || this.told.has(id)) return null;
    const op = await this.deps.store.get(id);
    return op && op.state === 'verifying' && (op.kind === 'advertise' || op.kind === 'withdraw') ? op : null;
  }

  private async handle(u: RisUpdate): Promise<void> {
    const prefixes = new Set([...(u.origin === CLOUDFLARE_ASN ? u.announced : []), ...u.withdrawn]);
    for (const prefix of prefixes) {
      const op = await this.watching(prefix);
      if (!op) continue;
      const seen = op.kind === 'advertise' ? u.announced.includes(op.prefix) && u.origin === CLOUDFLARE_ASN : u.withdrawn.includes(op.prefix);
      if (!seen) continue;
      this.told.add(op.id);
      if (this.told.size > 10_000) this.told.clear();
      // Once per request, whichever replica holds the stream.
      const first = await this.deps.redis.set(`${this.deps.keyPrefix}stream-first:${op.id}`, String(u.timestamp), 'PX', 86_400_000, 'NX');
      if (first !== 'OK') continue;
      const event = eventItem({
        type: 'progress',
        step: 'stream_seen',
        facts: { collector: u.collector, peer: u.peer, peerAsn: u.peerAsn, path: u.path.map((h) => (h === null ? '{set}' : String(h))).join(' '), at: Math.round(u.timestamp * 1000) },
      });
      const now = this.deps.now?.() ?? Date.now();
      await this.deps.store.update(op.id, (o) => (o.state !== 'verifying' ? { op: o } : { op: { ...o, updatedAt: now }, notify: [event] }));
      await this.deps.dispatcher.deliver(op.id);
      this.posted++;
    }
  }
}
