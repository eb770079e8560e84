import type { WebClient } from '@slack/web-api';
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

  async members(groupId: string): Promise<Set<string>> {
    const hit = this.cache.get(groupId);
    if (hit && hit.until > Date.now()) return hit.users;
    const res = await this.client.usergroups.users.list({ usergroup: groupId });
    const users = new Set(res.users ?? []);
    this.cache.set(groupId, { users, until: Date.now() + this.ttlMs });
    return users;
  }

  async isMember(userId: string, groupIds: readonly string[]): Promise<boolean> {
    for (const g of groupIds) {
      try {
        if ((await this.members(g)).has(userId)) return true;
      } catch {
        // an unreadable group grants nothing
      }
    }
    return false;
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
