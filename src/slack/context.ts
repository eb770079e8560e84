import type { Logger } from 'pino';
import type { OperationService } from '../operations/service.js';

/** What listeners need: services, never Cloudflare or Redis directly. */
export interface ListenerContext {
  service: OperationService;
  logger: Logger;
  /** Optional pre-flight runner (routing view). */
  preflight?: (cidr: string, asn?: number) => Promise<{ text: string; blocks: unknown[] }>;
}
