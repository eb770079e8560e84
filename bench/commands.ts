import { benchStack, CHANNEL, latencies, nowMs, sleep, timedPool, type BenchStack, type Row } from './lib.js';

const PER_COMMAND = 200;
const CONCURRENCY = 10;
const ALICE = 'U0ALICE';

/**
 * Slash command ack latency through the real Bolt HTTP receiver: signed `/byoip status` and `/byoip help`,
 * time from send to HTTP 200. Also the time until the answer reaches the response URL (the user sees it then).
 */
export async function run(): Promise<Row[]> {
  const stack = await benchStack('commands');
  try {
    // One of each first, so the rows measure a warm receiver, not module loading and first connections.
    await stack.sender!.command(ALICE, 'help', { channel: CHANNEL });
    await stack.sender!.command(ALICE, 'status', { channel: CHANNEL });
    await sleep(200);
    return [...(await measure(stack, 'help')), ...(await measure(stack, 'status'))];
  } finally {
    await stack.cleanup();
  }
}

async function measure(stack: BenchStack, text: 'help' | 'status'): Promise<Row[]> {
  const sender = stack.sender!;
  const cfBefore = stack.cloudflare.state.calls.length;
  const sent: { id: string; at: number }[] = [];
  let failures = 0;
  const t0 = nowMs();
  const acks = await timedPool(PER_COMMAND, CONCURRENCY, async (i) => {
    const at = Date.now();
    const res = await sender.command(ALICE, text, { channel: CHANNEL });
    if (res.status !== 200) failures++;
    sent[i] = { id: decodeURIComponent(res.responseUrl.split('/').at(-1) ?? ''), at };
  });
  const ackWall = nowMs() - t0;

  // The answer is posted to the response URL after the ack; wait (bounded) until every one has arrived.
  const answered = () => sent.filter((s) => stack.slack.responsePosts(s.id).length > 0).length;
  await stack.slack.waitFor(() => answered() === PER_COMMAND || undefined, 60_000).catch(() => undefined);
  const answerWall = nowMs() - t0;
  const answerMs = sent.flatMap((s) => {
    const post = stack.slack.responsePosts(s.id)[0];
    return post ? [post.at - s.at] : [];
  });
  const cfNew = stack.cloudflare.state.calls.slice(cfBefore);
  const cfCalls = cfNew.length;
  const byStatus = new Map<number, number>();
  for (const c of cfNew) byStatus.set(c.status, (byStatus.get(c.status) ?? 0) + 1);
  const statuses = [...byStatus].map(([s, n]) => `${n}x${s}`).join(' ');

  return [
    {
      bench: 'commands',
      case: `/byoip ${text}: ack (HTTP 200)`,
      count: PER_COMMAND,
      ...latencies(acks),
      perSec: PER_COMMAND / (ackWall / 1000),
      note: `${CONCURRENCY} in flight; ${failures} non-200 answers`,
    },
    {
      bench: 'commands',
      case: `/byoip ${text}: answer at response_url`,
      count: answerMs.length,
      ...latencies(answerMs),
      perSec: answerMs.length / (answerWall / 1000),
      note: `${PER_COMMAND - answerMs.length} unanswered after 60 s; ${cfCalls} Cloudflare calls (${(cfCalls / PER_COMMAND).toFixed(1)} per command${statuses ? `: ${statuses}` : ''})`,
    },
  ];
}
