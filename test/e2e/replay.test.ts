import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, patchCalls, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const CAROL = 'U0CAROL';
const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('nothing replayed (signed HTTP)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack();
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a signed emergency advertise replayed byte for byte opens one confirm step, and its Send now replayed makes one PATCH', async () => {
    const p = DEFAULT_SCENARIO.prefixes.withdrawn;
    const sender = stack.sender!;
    const { fields } = sender.payloads.command(CAROL, `emergency advertise ${p.cidr} INC-9 our DC lost power`, { channel: CHANNEL });
    const body = new URLSearchParams(fields).toString();
    const headers = sender.signedHeaders(body);

    const first = await sender.raw(body, headers);
    expect(first.status).toBe(200);
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(CAROL), 5000);
    // the same bytes again, once after the other and five at once: acknowledged, and nothing done
    const again = await sender.raw(body, headers);
    const burst = await Promise.all(Array.from({ length: 5 }, () => sender.raw(body, headers)));
    expect([again, ...burst].map((r) => [r.status, r.body])).toEqual(Array.from({ length: 6 }, () => [200, '']));
    await sleep(300);
    expect(stack.slack.callsOf('views.open')).toHaveLength(1);
    expect(stack.slack.ephemerals(CAROL)).toHaveLength(0);

    // Send now, then the same submission replayed: one break glass, one PATCH, one confirmation
    const submit = new URLSearchParams({ payload: JSON.stringify(sender.payloads.viewSubmission(CAROL, modal.id, reason('INC-9 our DC lost power'))) }).toString();
    const submitHeaders = sender.signedHeaders(submit);
    const sent = await sender.raw(submit, submitHeaders);
    expect(sent.status).toBe(200);
    const replayed = await Promise.all(Array.from({ length: 3 }, () => sender.raw(submit, submitHeaders)));
    expect(replayed.every((r) => r.status === 200 && r.body === '')).toBe(true);
    await stack.slack.waitFor(() => patchCalls(stack, p.bgpPrefixId).length === 1 || undefined, 5000);
    await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).find((e) => e.text.includes('being sent to Cloudflare now')), 5000);
    await sleep(500);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);
    expect((await stack.bot!.store.recent(10)).filter((o) => o.breakGlass)).toHaveLength(1);
    expect(stack.slack.ephemerals(CAROL).filter((e) => e.text.includes('being sent'))).toHaveLength(1);
    const audit = await stack.bot!.store.auditTrail();
    expect(audit.filter((a) => a.type === 'break_glass')).toHaveLength(1);
  });

  it('a replayed status command is answered once', async () => {
    const sender = stack.sender!;
    const { fields, responseUrl } = sender.payloads.command(ALICE, 'status', { channel: CHANNEL });
    const body = new URLSearchParams(fields).toString();
    const headers = sender.signedHeaders(body);
    for (let i = 0; i < 3; i++) expect((await sender.raw(body, headers)).status).toBe(200);
    const id = decodeURIComponent(responseUrl.split('/response/')[1]!);
    await stack.slack.waitFor(() => stack.slack.responsePosts(id).length > 0 || undefined, 5000);
    await sleep(300);
    expect(stack.slack.responsePosts(id)).toHaveLength(1);
  });

  it('a timestamp more than 60 s in the future gets 401, like a stale one; a small skew is fine', async () => {
    const sender = stack.sender!;
    const calls = stack.slack.calls.length;
    const signed = (text: string, ts: number) => {
      const body = new URLSearchParams(sender.payloads.command(ALICE, text, { channel: CHANNEL }).fields).toString();
      return sender.raw(body, sender.signedHeaders(body, undefined, ts));
    };
    expect((await signed('help', nowSec() + 120)).status).toBe(401);
    expect((await signed('help', nowSec() + 6 * 60)).status).toBe(401);
    expect((await signed('help', nowSec() - 6 * 60)).status).toBe(401);
    await sleep(200);
    expect(stack.slack.calls.length).toBe(calls);
    const skewed = await signed('help', nowSec() + 20);
    expect(skewed.status).toBe(200);
  });
});

describe('nothing replayed (Socket Mode: a redelivered envelope)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ socketMode: true });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('the same slash command payload delivered twice opens one confirm step', async () => {
    const p = DEFAULT_SCENARIO.prefixes.withdrawn;
    const sender = stack.socketSender!;
    const { fields } = sender.payloads.command(CAROL, `emergency advertise ${p.cidr} INC-10 power`, { channel: CHANNEL });
    expect(await sender.send('slash_commands', { ...fields }, true)).toMatchObject({ acked: true });
    await stack.slack.waitFor(() => stack.slack.openModal(CAROL), 5000);
    expect(await sender.send('slash_commands', { ...fields }, true)).toMatchObject({ acked: true });
    await sleep(300);
    expect(stack.slack.callsOf('views.open')).toHaveLength(1);
  });
});
