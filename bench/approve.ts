import { SANDBOX_GROUPS } from '../world/sandbox/stack.js';
import { DEFAULT_SCENARIO } from '../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../src/slack/ids.js';
import { benchStack, CHANNEL, fileRequest, latencies, nowMs, sleep, type Row } from './lib.js';

const APPROVERS = 50;

/**
 * The Approve click path under a race: one withdraw filed, then 50 approvers click Approve at the same moment.
 * Latency is send to HTTP 200 of each click; the figure that matters is that Cloudflare saw one PATCH.
 */
export async function run(): Promise<Row[]> {
  const approvers = Array.from({ length: APPROVERS }, (_, i) => `U0BENCH${String(i).padStart(2, '0')}`);
  const stack = await benchStack('approve', { extraUsers: approvers.map((id) => ({ id, name: id.toLowerCase() })) });
  try {
    stack.slack.setUsergroupUsers(SANDBOX_GROUPS.approvers.id, approvers);
    await sleep(1100); // past the bot's 1 s user-group cache, so every click sees the 50 approvers
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'benchmark: approval race');
    const sender = stack.sender!;
    const slackBefore = stack.slack.calls.length;

    const t0 = nowMs();
    const clicks = await Promise.all(
      approvers.map(async (u) => {
        const c0 = nowMs();
        const res = await sender.clickButton(u, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
        return { ms: nowMs() - c0, status: res.status };
      }),
    );
    const wall = nowMs() - t0;

    // Let the withdraw finish so the PATCH count is final and the stack stops quietly.
    const done = await stack.slack
      .waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 20_000)
      .then(() => true)
      .catch(() => false);
    const doneMs = nowMs() - t0;
    await stack.slack.waitFor(() => (lateClickersTold(stack) >= APPROVERS - 1 ? true : undefined), 5000).catch(() => undefined);

    const patches = stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/bgp/prefixes/${p.bgpPrefixId}`)).length;
    const op = (await stack.bot!.store.recent(5)).find((o) => o.prefix === p.cidr);
    const audit = op ? await stack.bot!.store.auditTrail(op.id) : [];
    const approved = audit.filter((a) => a.type === 'approved').length;
    const refused = audit.filter((a) => a.type === 'approval_refused').length;
    const non200 = clicks.filter((c) => c.status !== 200).length;
    const slackCalls = stack.slack.calls.length - slackBefore;

    return [
      {
        bench: 'approve',
        case: `${APPROVERS} concurrent Approve clicks (HTTP 200)`,
        count: clicks.length,
        ...latencies(clicks.map((c) => c.ms)),
        perSec: clicks.length / (wall / 1000),
        note:
          `Cloudflare PATCH calls: ${patches} (want 1); audit: ${approved} approved, ${refused} refused; ` +
          `${lateClickersTold(stack)} late clickers told privately; ${non200} non-200 clicks; ` +
          `${done ? `Done: in thread ${(doneMs / 1000).toFixed(2)} s after the clicks began` : 'no Done: within 20 s'}; ${slackCalls} Slack API calls after the clicks`,
      },
    ];
  } finally {
    await stack.cleanup();
  }
}

function lateClickersTold(stack: Awaited<ReturnType<typeof benchStack>>): number {
  return stack.slack.ephemerals().filter((e) => e.text.includes('already approved by')).length;
}
