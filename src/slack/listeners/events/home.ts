import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { ListenerContext } from '../../context.js';
import { homeView } from '../../views/home.js';

/**
 * `app_home_opened`: publishes the Home tab for that user, refreshed on every open. Viewers only: anyone else sees a
 * sentence saying why, and nothing is read from Cloudflare.
 */
export function appHomeOpened(ctx: ListenerContext) {
  return async ({ event, client }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs): Promise<void> => {
    if (event.tab && event.tab !== 'home') return;
    const user = event.user;
    let view: Record<string, unknown>;
    try {
      await ctx.service.authorizeRead(user, 'home');
      const report = await ctx.service.statusReport(undefined, { details: true });
      view = homeView(report, Date.now());
    } catch (err) {
      const why = err instanceof Error && 'userMessage' in err ? String((err as { userMessage: string }).userMessage) : 'The bot could not read the prefixes right now; open the tab again in a moment.';
      view = { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: why.slice(0, 2900) } }] };
    }
    await client.views.publish({ user_id: user, view: view as never }).catch((e: unknown) => ctx.logger.warn({ err: e, user }, 'could not publish the Home tab'));
  };
}
