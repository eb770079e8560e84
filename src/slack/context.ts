import type { Logger } from 'pino';
import type { OperationService } from '../operations/service.js';

/** What listeners need: services, never Cloudflare or Redis directly. */
export interface ListenerContext {
  service: OperationService;
  logger: Logger;
  /** Optional pre-flight runner (routing view). */
  preflight?: (cidr: string, asn?: number) => Promise<{ text: string; blocks: unknown[] }>;
  /** Told how long a slash command took from reaching the bot to its ack (metrics). */
  onCommandAck?: (command: string, seconds: number) => void;
}

/** Set by the receivers (customPropertiesExtractor) on every request's context: when it reached the bot. */
export interface ReceivedAt {
  receivedAt?: number;
}
