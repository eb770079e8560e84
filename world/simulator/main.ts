import { parseArgs } from 'node:util';
import { createLogger } from '../../src/logger.js';
import { SimClock } from './clock.js';
import { startCloudflareSimulator } from './cloudflare/server.js';
import { SANDBOX_CLOUDFLARE_TOKEN, SCENARIO_NAMES } from './cloudflare/scenarios.js';
import { startRoutingSimulators } from './routing/index.js';
import { startSlackSimulator } from './slack/index.js';
import { World } from './world.js';
import { SANDBOX_BOT_TOKEN, SANDBOX_CHANNEL, SANDBOX_GROUPS, SANDBOX_SIGNING_SECRET, SANDBOX_USERS } from '../sandbox/stack.js';

const USAGE = `npm run simulator [-- --time-scale N] [--scenario NAME] [--cloudflare-port P] [--slack-port P]

Runs the simulated world: Cloudflare addressing API, RIPEstat, Routinator, IRRd whois, DNS and the Slack Web API,
on 127.0.0.1, and prints the environment that points a bot (npm start) at them.
Scenarios: ${SCENARIO_NAMES.join(', ')}.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'time-scale': { type: 'string', default: '60' },
      scenario: { type: 'string', default: 'default' },
      'cloudflare-port': { type: 'string', default: '8787' },
      'slack-port': { type: 'string', default: '4010' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const scale = Number(values['time-scale']);
  if (!(scale > 0)) throw new Error(`--time-scale must be a positive number (got "${values['time-scale']}")`);
  if (!(SCENARIO_NAMES as readonly string[]).includes(values.scenario)) throw new Error(`--scenario must be one of ${SCENARIO_NAMES.join(', ')}`);
  const logger = createLogger({ name: 'simulator' });
  const world = new World({ clock: new SimClock(scale), seed: 7 });
  const cf = await startCloudflareSimulator({ world, scenario: values.scenario, port: Number(values['cloudflare-port']), logger });
  const routing = await startRoutingSimulators({ world });
  const slack = await startSlackSimulator({
    port: Number(values['slack-port']),
    botToken: SANDBOX_BOT_TOKEN,
    users: SANDBOX_USERS.map((u) => ({ id: u.id, name: u.name, realName: u.realName })),
    usergroups: Object.values(SANDBOX_GROUPS).map((g) => ({ ...g, users: [...g.users] })),
    channels: [SANDBOX_CHANNEL],
  });
  const env = {
    CLOUDFLARE_API_BASE_URL: cf.url,
    CLOUDFLARE_API_TOKEN: SANDBOX_CLOUDFLARE_TOKEN,
    SLACK_API_URL: slack.apiUrl,
    SLACK_BOT_TOKEN: SANDBOX_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SANDBOX_SIGNING_SECRET,
    ...routing.env,
    // The simulated prefixes are documentation space, which a production bot refuses.
    ALLOW_DOCUMENTATION_PREFIXES: 'true',
  };
  console.log(`Simulators up (time x${scale}, scenario ${values.scenario}). Control API: ${cf.controlUrl}`);
  console.log('Point a bot at them with:');
  for (const [k, v] of Object.entries(env)) console.log(`  export ${k}=${v}`);
  const stop = async () => {
    await Promise.allSettled([cf.close(), routing.close(), slack.close()]);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
