import type { Logger } from 'pino';
import type { AlertStore } from '../monitors/alert-store.js';
import type { CommandRateLimit } from '../operations/rate-limit.js';
import type { OperationService } from '../operations/service.js';
import type { WorkQueue } from './work-queue.js';

/** What listeners need: services, never Cloudflare or Redis directly. */
export interface ListenerContext {
  service: OperationService;
  logger: Logger;
  /** The group directory's cache, forgotten per group on `subteam_members_changed`. */
  groups: { invalidate(groupId?: string): void };
  /** Commands per user and per workspace (Redis); absent = no limit. */
  rateLimit?: CommandRateLimit;
  /** Bounds the work commands do after their ack; absent = unbounded. */
  work?: WorkQueue;
  /** Optional pre-flight runner (routing view). */
  preflight?: (cidr: string, asn?: number) => Promise<{ text: string; blocks: unknown[] }>;
  /** How long to wait for a card to be posted before telling the user where it is (default 10 s). */
  cardWaitMs?: number;
  /** Acks first: work after an ack waits (bounded) until the acks in flight are out; absent = starts at once. */
  acks?: { idle(): Promise<void> };
  /** Told how long a slash command took from reaching the bot to its ack (metrics). */
  onCommandAck?: (command: string, seconds: number) => void;
  /** Alert cards (acknowledge, emergency buttons); absent = no alert buttons are handled. */
  alerts?: AlertStore;
}

/** Set by the receivers (customPropertiesExtractor) on every request's context: when it reached the bot. */
export interface ReceivedAt {
  receivedAt?: number;
}
