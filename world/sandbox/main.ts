import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parseDuration } from '../../src/config.js';
import { SCENARIO_NAMES } from '../simulator/cloudflare/scenarios.js';
import { createLogger } from '../../src/logger.js';
import { userMessageOf } from '../../src/errors.js';
import { runChat } from './chat.js';
import { ensureRedis } from './redis.js';
import { worldCommand } from './world-command.js';
import { deleteStackKeys, SANDBOX_CHANNEL, SANDBOX_USERS, startStack } from './stack.js';

const USAGE = `npm run sandbox [-- --script FILE] [--time-scale N] [--log FILE]

Starts Redis (REDIS_URL, or the one on 127.0.0.1:6379, or a private redis-server), the simulated
Cloudflare, RIPEstat, RPKI, IRR, DNS and Slack, the bot, and a terminal chat. No credentials needed.
  --script FILE     run the chat lines in FILE instead of a terminal; exit 1 if a "wait until" times out
  --time-scale N    simulated seconds per real second (default 60: a 15-minute withdraw takes ~15 s)
  --log FILE        where the bot's JSON logs go (default .sandbox/bot.log)
  --wait-timeout D  how long "wait until" waits before giving up (default 120s)
  --scenario NAME   the simulated Cloudflare account: ${SCENARIO_NAMES.join(', ')} (default: default)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      script: { type: 'string' },
      'time-scale': { type: 'string', default: '60' },
      log: { type: 'string', default: join('.sandbox', 'bot.log') },
      'wait-timeout': { type: 'string', default: '120s' },
      scenario: { type: 'string', default: 'default' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const scale = Number(values['time-scale']);
  if (!(scale > 0 && scale <= 100_000)) {
    console.error(`--time-scale must be a number from 0 to 100000 (got "${values['time-scale']}")`);
    return 2;
  }
  if (!(SCENARIO_NAMES as readonly string[]).includes(values.scenario)) {
    console.error(`--scenario must be one of ${SCENARIO_NAMES.join(', ')} (got "${values.scenario}")`);
    return 2;
  }
  let waitTimeout: number;
  try {
    waitTimeout = parseDuration(values['wait-timeout']);
  } catch (err) {
    console.error(`--wait-timeout: ${(err as Error).message}`);
    return 2;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  mkdirSync(join(values.log, '..'), { recursive: true });
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', destination: pino.destination({ dest: values.log, sync: false, mkdir: true }) });

  let redis;
  try {
    redis = await ensureRedis({ url: process.env.REDIS_URL, log: say });
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  const prefix = `sandbox-${randomBytes(3).toString('hex')}`;
  say(`Starting simulators and the bot (time x${scale}, logs in ${values.log})…`);
  const stack = await startStack({ redisUrl: redis.url, redisPrefix: prefix, timeScale: scale, pollIntervalMs: 250, channelIntervalMs: 1000, logger, scenario: values.scenario });
  say(`Ready. Channel #${SANDBOX_CHANNEL.name}. People: ${SANDBOX_USERS.map((u) => `${u.name} (${u.role})`).join(', ')}.`);
  const prefixes = [...stack.cloudflare.state.prefixes.values()].map((p) => {
    const bgp = [...stack.cloudflare.state.bgpPrefixes.values()].find((b) => b.prefixId === p.id);
    return `${p.cidr} (${p.approved === 'V' ? (bgp ? (bgp.advertised ? 'advertised' : 'withdrawn') : 'approved') : 'pending validation'})`;
  });
  say(`Scenario ${values.scenario}. Prefixes on the simulated Cloudflare account: ${prefixes.join(', ') || 'none yet (try /byoip onboard 192.0.2.0/24 13335)'}. Type "help".`);

  let code = 1;
  try {
    code = await runChat({
      sim: stack.slack,
      sender: stack.sender!,
      users: SANDBOX_USERS.map((u) => ({ id: u.id, name: u.name, role: u.role })),
      defaultUser: 'alice',
      channel: SANDBOX_CHANNEL.id,
      input: values.script ? createReadStream(values.script) : process.stdin,
      output: process.stdout,
      script: Boolean(values.script),
      waitUntilTimeoutMs: waitTimeout,
      extraCommands: {
        world: worldCommand(stack.world, (cidr) => [...stack.cloudflare.state.prefixes.values()].find((p) => p.cidr === cidr)?.ownershipValidationToken ?? undefined),
      },
    });
  } catch (err) {
    console.error(userMessageOf(err));
  } finally {
    await stack.stop();
    await deleteStackKeys(redis.url, prefix); // the sandbox leaves nothing behind in a shared Redis
    await redis.stop();
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(userMessageOf(err));
    process.exit(1);
  },
);
