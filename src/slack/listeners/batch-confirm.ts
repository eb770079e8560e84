import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { BatchSelection } from '../../operations/service.js';
import type { ListenerContext } from '../context.js';
import { batchModal, skipText, type BatchModalMetadata } from '../views/batch-card.js';

/**
 * The multi-prefix break-glass confirm step, from `/byoip emergency <cidr>,<cidr>…|--all` or from an alert card about
 * several prefixes: the intake (on call, live; every prefix resolved; already in the wanted state, locked or held:
 * skipped), then one dialog whose blast radius fills in while it is open. Nothing to send: one sentence, nothing
 * spent. Returns the prefixes the dialog lists (none when nothing opened).
 */
export async function openBatchConfirm(
  ctx: ListenerContext,
  client: WebClient,
  a: {
    kind: 'advertise' | 'withdraw';
    selection: BatchSelection;
    user: string;
    triggerId: string;
    reason: string;
    /** Where the card goes, and what else the dialog's metadata carries. */
    origin: Omit<BatchModalMetadata, 'kind' | 'cidrs' | 'skipped'>;
    tell: (text: string) => Promise<unknown>;
    log: Logger;
  },
): Promise<string[]> {
  const { items, skipped } = await ctx.service.breakGlassBatchIntake(a.kind, a.selection, a.user);
  if (items.length === 0) {
    await a.tell(`ℹ️ Nothing to send: ${skipped.map((x) => skipText(a.kind, x)).join('; ')}. Nothing was sent and no break-glass use was spent.`);
    return [];
  }
  const meta: BatchModalMetadata = { kind: a.kind, cidrs: 'all' in a.selection ? null : items.map((i) => i.cidr), skipped, ...a.origin };
  const opened = await client.views.open({ trigger_id: a.triggerId, view: batchModal(meta, a.reason, items, skipped, { checking: true }) as never });
  const viewId = (opened.view as { id?: string } | undefined)?.id;
  const withBlast = await ctx.service.breakGlassBatchBlast(items).catch((err: unknown) => {
    a.log.warn({ err }, 'batch blast radius could not be read');
    return null;
  });
  if (viewId && withBlast) {
    await client.views
      .update({ view_id: viewId, view: batchModal(meta, a.reason, withBlast, skipped, { checking: false }) as never })
      .catch((err: unknown) => a.log.info({ err }, 'batch modal not updated (already submitted or closed)'));
  }
  return items.map((i) => i.cidr);
}
