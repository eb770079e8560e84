import { randomBytes } from 'node:crypto';
import { accessSync, constants, createReadStream, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parseDuration } from '../../src/config.js';
import { SCENARIO_NAMES } from '../simulator/cloudflare/scenarios.js';
import { createLogger } from '../../src/logger.js';
import { userMessageOf } from '../../src/errors.js';
import { runChat } from './chat.js';
import { ensureRedis } from './redis.js';
import { chatOptions } from './session.js';
import { deleteStackKeys, SANDBOX_CHANNEL, SANDBOX_USERS, startStack } from './stack.js';

const USAGE = `npm run sandbox [-- --script FILE] [--time-scale N] [--log FILE]

Starts Redis (REDIS_URL, or the one on 127.0.0.1:6379, or a private redis-server), the simulated
Cloudflare, RIPEstat, RPKI, IRR, DNS and Slack, the bot, and a terminal chat. No credentials needed.
  --script FILE     run the chat lines in FILE instead of a terminal; exit 1 if a "wait until" times out
  --time-scale N    simulated seconds per real second (default 60: a 15-minute withdraw takes ~15 s)
  --log FILE        where the bot's logs go, one readable line each (default .sandbox/bot.log; LOG_PRETTY=0: JSON)
  --wait-timeout D  how long "wait until" waits before giving up (default 120s)
  --scenario NAME   the simulated Cloudflare account: ${SCENARIO_NAMES.join(', ')} (default: default)`;

const OPTIONS = {
  script: { type: 'string' },
  'time-scale': { type: 'string', default: '60' },
  log: { type: 'string', default: join('.sandbox', 'bot.log') },
  'wait-timeout': { type: 'string', default: '120s' },
  scenario: { type: 'string', default: 'default' },
  help: { type: 'boolean', default: false },
} as const;

type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

/** The options, or the one sentence that says what is wrong with them (exit 2, before anything starts). */
function checkOptions(argv: string[]): { values: Options; scale: number; waitTimeoutMs: number } | { error: string } {
  let values: Options;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const why = optionError(err);
    return { error: `${why.charAt(0).toUpperCase()}${why.slice(1)}; see npm run sandbox -- --help.` };
  }
  const scale = Number(values['time-scale']);
  if (!(scale > 0 && scale <= 100_000)) return { error: `--time-scale must be a number above 0 and at most 100000 (got "${values['time-scale']}").` };
  if (!(SCENARIO_NAMES as readonly string[]).includes(values.scenario)) return { error: `--scenario must be one of ${SCENARIO_NAMES.join(', ')} (got "${values.scenario}").` };
  let waitTimeoutMs: number;
  try {
    waitTimeoutMs = parseDuration(values['wait-timeout']);
  } catch (err) {
    return { error: `--wait-timeout: ${(err as Error).message}.` };
  }
  if (values.script !== undefined) {
    try {
      if (!statSync(values.script).isFile()) return { error: `--script ${values.script} is not a file.` };
      accessSync(values.script, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { error: `--script ${values.script} cannot be read (${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}).` };
    }
  }
  return { values, scale, waitTimeoutMs };
}

/** parseArgs' messages run to several sentences; one is enough. */
function optionError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const named = /'(-[^']+)'/.exec(e.message ?? '')?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${named ?? ''}`.trim();
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${named ?? /'([^']+)'/.exec(e.message ?? '')?.[1] ?? ''}`.trim();
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return (e.message ?? 'an option lacks its value').split('. ')[0]!.replace(/\.$/, '');
  return (e.message ?? String(err)).split('. ')[0]!.replace(/\.$/, '');
}

async function main(): Promise<number> {
  const checked = checkOptions(process.argv.slice(2));
  if ('error' in checked) {
    console.error(checked.error);
    return 2;
  }
  const { values, scale, waitTimeoutMs: waitTimeout } = checked;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  mkdirSync(join(values.log, '..'), { recursive: true });
  // Readable lines in the log file (tail -f it); LOG_PRETTY=0 writes pino's JSON instead.
  const destination = pino.destination({ dest: values.log, sync: false, mkdir: true });
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', destination, pretty: process.env.LOG_PRETTY === '0' ? false : { colorize: false } });

  let redis;
  try {
    redis = await ensureRedis({ url: process.env.REDIS_URL, log: say });
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  const prefix = `sandbox-${randomBytes(3).toString('hex')}`;
  say(`Starting simulators and the bot (time x${scale}, logs in ${values.log})…`);
  const stack = await startStack({ redisUrl: redis.url, redisPrefix: prefix, timeScale: scale, pollIntervalMs: 250, channelIntervalMs: 1000, logger, scenario: values.scenario, routingMonitor: true });
  say(`Ready. Channel #${SANDBOX_CHANNEL.name}. People: ${SANDBOX_USERS.map((u) => `${u.name} (${u.role})`).join(', ')}.`);
  const prefixes = [...stack.cloudflare.state.prefixes.values()].map((p) => {
    const bgp = [...stack.cloudflare.state.bgpPrefixes.values()].find((b) => b.prefixId === p.id);
    return `${p.cidr} (${p.approved === 'V' ? (bgp ? (bgp.advertised ? 'advertised' : 'withdrawn') : 'approved') : 'pending validation'})`;
  });
  say(`Scenario ${values.scenario}. Prefixes on the simulated Cloudflare account: ${prefixes.join(', ') || 'none yet (try /byoip onboard 192.0.2.0/24 13335)'}. Type "help".`);

  let code = 1;
  try {
    code = await runChat(
      chatOptions(stack, stack.sender!, {
        input: values.script ? createReadStream(values.script) : process.stdin,
        output: process.stdout,
        script: Boolean(values.script),
        waitUntilTimeoutMs: waitTimeout,
        handleSigint: true,
      }),
    );
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
