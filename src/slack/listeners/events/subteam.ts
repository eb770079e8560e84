import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { ListenerContext } from '../../context.js';

/**
 * `subteam_members_changed`: someone was added to or removed from a user group. The cached membership of that
 * group is forgotten, so the very next command by a removed member is refused (approvals and break glass read
 * Slack live anyway).
 */
export function subteamMembersChanged(ctx: ListenerContext) {
  return async ({ event }: SlackEventMiddlewareArgs<'subteam_members_changed'> & AllMiddlewareArgs): Promise<void> => {
    ctx.groups.invalidate(event.subteam_id);
    ctx.logger.info({ group: event.subteam_id, added: event.added_users?.length ?? 0, removed: event.removed_users?.length ?? 0 }, 'user group changed; cached membership forgotten');
  };
}
