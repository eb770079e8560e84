import { createLogger } from '../../src/logger.js';
import { DEFAULT_PORTS, parseStandaloneArgs, startStandalone, STANDALONE_USAGE } from '../sandbox/standalone.js';

const USAGE = `npm run simulator [-- options]

Runs the simulated world (Cloudflare addressing API, RIPEstat, Routinator, IRRd whois, DNS, Slack) on 127.0.0.1 at
fixed ports, writes the policy file and the environment that point a bot at it, and prints both. Then, in another
terminal: start the bot with that environment, and attach a chat with npm run chat.
${STANDALONE_USAGE}`;

async function main(): Promise<number> {
  const parsed = parseStandaloneArgs(process.argv.slice(2), 'npm run simulator');
  if ('error' in parsed) {
    console.error(parsed.error);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const s = parsed.settings;
  const logger = createLogger({ name: 'simulator', level: process.env.LOG_LEVEL ?? 'warn', pretty: true });
  const world = await startStandalone(s, logger);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`Simulators up (time x${s.scale}, scenario ${s.scenario}). Cloudflare control API: ${world.stack.cloudflare.controlUrl}`);
  if (world.cleared) say(`Cleared ${world.cleared} keys under ${s.redisPrefix} left in Redis by an earlier run.`);
  if (world.cleared === null) say(`Note: Redis at ${s.redisUrl} does not answer yet; the bot needs it.`);
  say(`Environment for the bot (written to ${world.envFile}; the policy is ${world.policyPath}):`);
  for (const [k, v] of Object.entries(world.env)) say(`  export ${k}=${v}`);
  say('');
  say(`Start the bot in another terminal:   ${world.howToStartBot}`);
  say(`Then talk to it from a third one:     npm run chat${s.ports.chat !== DEFAULT_PORTS.chat ? ` -- --chat-port ${s.ports.chat}` : ''}`);
  say('Ctrl-C stops the simulators.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await world.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);
