import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateView } from '../../world/simulator/slack/index.js';
import { SERVICES_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

describe('the App Home tab', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ scenario: 'services' });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  const published = (user: string) => stack.slack.callsOf('views.publish').filter((c) => (c.args as { user_id?: string }).user_id === user);

  it('shows every prefix with its bindings, delegation and address map when a viewer opens it, and is refreshed on every open', async () => {
    await stack.sender!.appHomeOpened('U0ALICE');
    const call = await stack.slack.waitFor(() => published('U0ALICE')[0], 5000);
    const view = (call.args as { view: Record<string, unknown> }).view;
    expect(validateView(view)).toEqual([]);
    const text = JSON.stringify(view);
    expect(text).toContain(SERVICES_SCENARIO.prefix.cidr);
    expect(text).toContain(`${SERVICES_SCENARIO.prefix.spectrumCidr} Spectrum`);
    expect(text).toContain(`${SERVICES_SCENARIO.delegation.cidr} → account`);
    expect(text).toContain('Address maps:');
    expect(text).toContain('Open requests');
    await stack.sender!.appHomeOpened('U0ALICE');
    await stack.slack.waitFor(() => (published('U0ALICE').length >= 2 ? true : undefined), 5000);
  });

  it('someone in no group gets a sentence instead, and nothing is read from Cloudflare for them', async () => {
    const before = stack.cloudflare.state.calls.length;
    await stack.sender!.appHomeOpened('U0MALLORY');
    const call = await stack.slack.waitFor(() => published('U0MALLORY')[0], 5000);
    expect(JSON.stringify((call.args as { view: unknown }).view)).toMatch(/not in a group allowed to see BYOIP state/);
    expect(stack.cloudflare.state.calls.length).toBe(before);
  });
});
