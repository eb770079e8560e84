import { DEFAULT_SCENARIO } from '../world/simulator/cloudflare/scenarios.js';
import { benchStack, emergencyConfirmStep, latencies, nowMs, sleep, type Row } from './lib.js';

const RUNS = 100;
const TIME_SCALE = 6000;

/**
 * Break glass at 3 a.m.: `/byoip emergency withdraw|advertise` -> the confirm step opens, then "Send now" -> the PATCH
 * at the simulated Cloudflare (its own arrival time). No look-up runs between the click and the PATCH; the guards are
 * looked up while the dialog is open. 100 runs, alternating withdraw and advertise of one prefix, each run waiting
 * for the previous change to finish (time x6000 so a 15-minute withdraw takes 150 ms).
 * One on-call user sends all the commands and submits within about a minute, far beyond what a person does: the
 * per-user limits (20 commands and 60 clicks / submits a minute by default; break glass is exempt only from the
 * workspace's) are raised for this stack, as is the hourly break-glass cap. A refusal stops the bench with the bot's
 * words instead of leaving a form open for the next run to submit.
 */
export async function run(): Promise<Row[]> {
  const stack = await benchStack('break-glass', {
    timeScale: TIME_SCALE,
    pollIntervalMs: 20,
    breakGlassMaxUses: RUNS,
    // About ten Cloudflare requests a run: 100 runs in well under a minute come close to the bot's whole share of
    // 1,200 per 5 minutes, counted in real time, while the simulated Cloudflare counts in simulated time (50 ms here).
    // The bot's window follows the simulated one.
    cloudflareBudget: { windowMs: Math.max(100, Math.round(300_000 / TIME_SCALE)) },
    env: { COMMAND_RATE_LIMIT_PER_USER: String(RUNS * 2), INTERACTION_RATE_LIMIT_PER_USER: String(RUNS * 2) },
  });
  const toModal: number[] = [];
  const toPatch: number[] = [];
  const commandToPatch: number[] = [];
  let misses = 0;
  try {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const patchesOf = () => stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/bgp/prefixes/${p.bgpPrefixId}`));
    let lastModal: string | null = null;
    for (let i = 0; i < RUNS; i++) {
      const action = i % 2 === 0 ? 'withdraw' : 'advertise';
      const before = patchesOf().length;
      const t0 = nowMs();
      const wall0 = Date.now();
      // this run's confirm step, not a form an earlier run left open
      const modal = await emergencyConfirmStep(stack, 'U0CAROL', `emergency ${action} ${p.cidr} bench run ${i}`, `run ${i}`, lastModal);
      lastModal = modal.id;
      const t1 = nowMs();
      const wall1 = Date.now();
      const sent = await stack.sender!.submitView('U0CAROL', modal.id);
      const refused = (sent.json as { response_action?: string; errors?: Record<string, string> } | undefined)?.response_action === 'errors';
      if (sent.status !== 200 || refused) throw new Error(`run ${i}: Send now refused (HTTP ${sent.status}): ${JSON.stringify(sent.json ?? sent.body)}`);
      const patch = await stack.slack.waitFor(() => patchesOf()[before], 5000).catch(() => null);
      if (!patch) {
        misses++;
        continue;
      }
      toModal.push(t1 - t0);
      toPatch.push(patch.at - wall1);
      commandToPatch.push(patch.at - wall0);
      // the next run needs the prefix free: wait for this change to end
      for (let w = 0; w < 500 && (await stack.bot!.store.lockHolder(p.cidr)); w++) await sleep(10);
    }
  } finally {
    await stack.cleanup();
  }
  const perRun = Math.round(stack.cloudflare.state.calls.length / RUNS);
  const note = `${toPatch.length} runs${misses ? `, ${misses} without a PATCH within 5 s` : ''}; ${perRun} Cloudflare requests a run; target p99 under 300 ms from Send now to the PATCH`;
  return [
    { bench: 'break-glass', case: 'command -> confirm step open', count: toModal.length, ...latencies(toModal) },
    { bench: 'break-glass', case: 'Send now -> PATCH at Cloudflare', count: toPatch.length, ...latencies(toPatch), note },
    { bench: 'break-glass', case: 'command -> PATCH (no human pause)', count: commandToPatch.length, ...latencies(commandToPatch) },
  ];
}
