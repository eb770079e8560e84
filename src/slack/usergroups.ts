import type { WebClient } from '@slack/web-api';
import { BotError, ErrorCode } from '../errors.js';
import type { GroupDirectory } from '../operations/ports.js';

/**
 * Live user-group membership from `usergroups.users.list` (Tier 2), cached for a short TTL so every click is
 * checked against membership at most `ttlMs` old. Fails closed: a group that cannot be read has no members.
 */
export class SlackGroupDirectory implements GroupDirectory {
  private cache = new Map<string, { users: Set<string>; until: number }>();

  constructor(
    private client: WebClient,
    private ttlMs: number,
  ) {}

  async members(groupId: string, fresh = false): Promise<Set<string>> {
    const hit = this.cache.get(groupId);
    if (!fresh && hit && hit.until > Date.now()) return hit.users;
    const res = await this.client.usergroups.users.list({ usergroup: groupId });
    const users = new Set(res.users ?? []);
    this.cache.set(groupId, { users, until: Date.now() + this.ttlMs });
    return users;
  }

  /**
   * Whether the user is in any of the groups. `fresh` reads Slack now (approvals and break glass). An unreadable
   * group grants nothing; when no group could be read at all the answer is unknown, and that is said, never
   * "not a member".
   */
  async isMember(userId: string, groupIds: readonly string[], opts: { fresh?: boolean } = {}): Promise<boolean> {
    let lastError: string | null = null;
    let readAny = false;
    for (const g of groupIds) {
      try {
        const users = await this.members(g, opts.fresh ?? false);
        readAny = true;
        if (users.has(userId)) return true;
      } catch (err) {
        lastError = (err as { data?: { error?: string } }).data?.error ?? (err as Error).message;
      }
    }
    if (!readAny && lastError !== null) {
      throw new BotError(ErrorCode.SlackDelivery, `Could not check your group membership (Slack said ${lastError}); nothing was changed. Try again in a moment.`, true);
    }
    return false;
  }

  /** Forget cached membership (a `subteam_members_changed` event). */
  invalidate(groupId?: string): void {
    if (groupId) this.cache.delete(groupId);
    else this.cache.clear();
  }

  /** Start-up check: every group in the policy must exist. Returns the problems found. */
  async check(groupIds: readonly string[]): Promise<string[]> {
    const problems: string[] = [];
    for (const g of new Set(groupIds)) {
      try {
        const users = await this.members(g);
        if (users.size === 0) problems.push(`user group ${g} has no members`);
      } catch (err) {
        problems.push(`user group ${g} cannot be read (${(err as Error).message})`);
      }
    }
    return problems;
  }
}
