import type { WebClient } from '@slack/web-api';
import type { Operation } from '../domain/operation.js';
import type { ListenerContext } from './context.js';
import { Responder } from './respond.js';

/** Where the user typed the command, and the command's response_url (answers there work in any channel or DM). */
export interface Origin {
  channel: string;
  responseUrl?: string | undefined;
  /** When Slack handed out the response_url (ms). */
  issuedAt?: number | undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The card's ts once the deliverer has posted it, or null after `waitMs`. */
async function cardTsOf(ctx: ListenerContext, opId: string, waitMs: number, lookup?: () => Promise<string | null>): Promise<string | null> {
  const until = Date.now() + waitMs;
  for (;;) {
    const ts = lookup ? await lookup().catch(() => null) : ((await ctx.service.get(opId).catch(() => null))?.cardTs ?? null);
    if (ts) return ts;
    if (Date.now() >= until) return null;
    await sleep(100);
  }
}

/**
 * Tells `user` privately, where they typed the command, where the card is: a link to it (chat.getPermalink)
 * once posted, else the channel. `lead` is the sentence before ("Your withdraw request for 203.0.113.0/24").
 * Nothing is said when the command was typed in the card's channel (the card appears there) unless `always`.
 */
export async function tellWhere(ctx: ListenerContext, client: WebClient, op: Operation, user: string, origin: Origin, lead: string, opts: { always?: boolean; /** Where the card's ts is read (a multi-prefix emergency's card is the batch's). */ cardTs?: () => Promise<string | null> } = {}): Promise<void> {
  const elsewhere = origin.channel !== op.channel;
  if (!elsewhere && !opts.always) return;
  let text = `${lead}.`;
  if (elsewhere) {
    const ts = await cardTsOf(ctx, op.id, ctx.cardWaitMs ?? 10_000, opts.cardTs);
    const permalink = ts
      ? await client.chat
          .getPermalink({ channel: op.channel, message_ts: ts })
          .then((r) => (typeof r.permalink === 'string' ? r.permalink : null))
          .catch(() => null)
      : null;
    text = permalink ? `${lead}. The card is in <#${op.channel}>: <${permalink}|open it>.` : `${lead}. The card is posted in <#${op.channel}> (request \`${op.id}\`).`;
  }
  const log = ctx.logger.child({ operationId: op.id, user });
  if (origin.responseUrl) {
    const sent = await new Responder(origin.responseUrl, log, origin.issuedAt ? { issuedAt: origin.issuedAt } : {}).send({ response_type: 'ephemeral', text });
    if (sent) return;
  }
  await client.chat.postEphemeral({ channel: origin.channel, user, text }).catch((err: unknown) => log.warn({ err }, 'could not say where the card is'));
}
