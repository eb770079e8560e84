/** What the engine needs from outside: Slack group membership and the job queues. Cloudflare and routing: src/kinds/types.ts. */
export type { AddressingApi, RoutingView } from '../kinds/types.js';

/** Live user-group membership (Slack `usergroups.users.list`). */
export interface GroupDirectory {
  /** `fresh`: read Slack now, no cache (approvals and break glass). */
  isMember(userId: string, groupIds: readonly string[], opts?: { fresh?: boolean }): Promise<boolean>;
}

/** What recovery sees of a job: still coming, or over (completed / failed), or not there at all. */
export type JobState = 'pending' | 'completed' | 'failed' | 'missing';

/** Puts work on the job queues; implemented by jobs/. Job ids carry the operation's job generation. */
export interface Dispatcher {
  execute(opId: string, gen: number): Promise<void>;
  /** One watch job per operation and generation, re-armed by the job itself. */
  watch(opId: string, delayMs: number, gen: number): Promise<void>;
  deliver(opId: string): Promise<void>;
  /** The real state of an operation's execute / watch job of that generation. */
  jobState(queue: 'execute' | 'watch', opId: string, gen: number): Promise<JobState>;
}
