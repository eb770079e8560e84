import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { SCENARIO_NAMES } from '../simulator/cloudflare/scenarios.js';
import { runChat } from './chat.js';
import { chatOptions, senderFor } from './session.js';
import { deleteStackKeys, SANDBOX_CHANNEL, SANDBOX_USERS, startStack, type SimulatorPorts, type Stack } from './stack.js';

/**
 * The simulated world on fixed ports, for a bot started on its own (`npm run simulator`, `npm start`, `npm run
 * chat`): the environment that points the bot at it is printed and written to an env file, with the policy file.
 */

export const DEFAULT_PORTS: SimulatorPorts & { chat: number } = { cloudflare: 8787, slack: 4010, ripestat: 4011, rpki: 4012, irr: 4043, dns: 4053, bot: 3000, chat: 4099 };

export const STANDALONE_OPTIONS = {
  'time-scale': { type: 'string', default: '60' },
  scenario: { type: 'string', default: 'default' },
  'cloudflare-port': { type: 'string', default: String(DEFAULT_PORTS.cloudflare) },
  'slack-port': { type: 'string', default: String(DEFAULT_PORTS.slack) },
  'ripestat-port': { type: 'string', default: String(DEFAULT_PORTS.ripestat) },
  'rpki-port': { type: 'string', default: String(DEFAULT_PORTS.rpki) },
  'irr-port': { type: 'string', default: String(DEFAULT_PORTS.irr) },
  'dns-port': { type: 'string', default: String(DEFAULT_PORTS.dns) },
  'bot-port': { type: 'string', default: String(DEFAULT_PORTS.bot) },
  'chat-port': { type: 'string', default: String(DEFAULT_PORTS.chat) },
  'redis-url': { type: 'string' },
  'redis-prefix': { type: 'string', default: 'byoip-sim' },
  dir: { type: 'string', default: '.sandbox' },
  help: { type: 'boolean', default: false },
} as const;

export const STANDALONE_USAGE = `  --scenario NAME        the simulated Cloudflare account: ${SCENARIO_NAMES.join(', ')} (default: default)
  --time-scale N         simulated seconds per real second (default 60)
  --cloudflare-port P    Cloudflare addressing API (default ${DEFAULT_PORTS.cloudflare})
  --slack-port P         Slack Web API (default ${DEFAULT_PORTS.slack})
  --ripestat-port P      RIPEstat (default ${DEFAULT_PORTS.ripestat})
  --rpki-port P          Routinator RPKI validator (default ${DEFAULT_PORTS.rpki})
  --irr-port P           IRRd whois (default ${DEFAULT_PORTS.irr})
  --dns-port P           DNS, UDP (default ${DEFAULT_PORTS.dns})
  --bot-port P           the PORT the bot is told to listen on; the chat sends Slack's requests there (default ${DEFAULT_PORTS.bot})
  --chat-port P          where npm run chat attaches (default ${DEFAULT_PORTS.chat})
  --redis-url URL        the REDIS_URL the bot is given (default: REDIS_URL, else redis://127.0.0.1:6379)
  --redis-prefix NAME    BYOIP_REDIS_PREFIX (default byoip-sim)
  --dir DIR              where policy.yml and simulator.env are written (default .sandbox)`;

export interface StandaloneSettings {
  scale: number;
  scenario: string;
  ports: SimulatorPorts & { chat: number };
  redisUrl: string;
  redisPrefix: string;
  dir: string;
}

/** The settings, or one sentence saying what is wrong with them. */
export function standaloneSettings(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): StandaloneSettings | { error: string } {
  const scale = Number(values['time-scale']);
  if (!(scale > 0 && scale <= 100_000)) return { error: `--time-scale must be a number above 0 and at most 100000 (got "${String(values['time-scale'])}").` };
  const scenario = String(values.scenario);
  if (!(SCENARIO_NAMES as readonly string[]).includes(scenario)) return { error: `--scenario must be one of ${SCENARIO_NAMES.join(', ')} (got "${scenario}").` };
  const ports = {} as SimulatorPorts & { chat: number };
  for (const name of Object.keys(DEFAULT_PORTS) as (keyof typeof DEFAULT_PORTS)[]) {
    const text = String(values[`${name}-port`]);
    const port = Number(text);
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) return { error: `--${name}-port must be a port number from 1 to 65535 (got "${text}").` };
    ports[name] = port;
  }
  const seen = new Map<number, string>();
  for (const [name, port] of Object.entries(ports)) {
    const other = seen.get(port);
    if (other) return { error: `--${other}-port and --${name}-port are both ${port}; give each its own port.` };
    seen.set(port, name);
  }
  const redisUrl = typeof values['redis-url'] === 'string' ? values['redis-url'] : (env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  return { scale, scenario, ports, redisUrl, redisPrefix: String(values['redis-prefix']), dir: String(values.dir) };
}

/** Parses argv with the standalone options (plus `extra`), or says in one sentence what is wrong. */
export function parseStandaloneArgs<E extends Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>>(
  argv: string[],
  command: string,
  extra: E = {} as E,
): { values: Record<string, string | boolean | undefined>; settings: StandaloneSettings } | { error: string } {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: { ...STANDALONE_OPTIONS, ...extra }, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const named = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
    const why =
      e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `Unknown option ${named}` : e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' ? `Unexpected argument ${named}` : (e.message ?? String(err)).split('. ')[0]!.replace(/\.$/, '');
    return { error: `${why}; see ${command} -- --help.` };
  }
  const settings = standaloneSettings(values);
  return 'error' in settings ? settings : { values, settings };
}

export interface Standalone {
  stack: Stack;
  env: Record<string, string>;
  envFile: string;
  policyPath: string;
  botUrl: string;
  chatPort: number;
  /** Keys of an earlier run deleted from Redis at start (null: Redis could not be reached). */
  cleared: number | null;
  /** How to start the bot against this world, for the terminal. */
  howToStartBot: string;
  stop(): Promise<void>;
}

/** Starts the simulated world on its fixed ports, writes policy.yml and simulator.env, and serves remote chats. */
export async function startStandalone(s: StandaloneSettings, logger: Logger): Promise<Standalone> {
  const dir = resolve(s.dir);
  const policyPath = join(dir, 'policy.yml');
  // The world starts afresh, so requests a bot recorded against an earlier run of it point at nothing: drop them.
  const cleared = await deleteStackKeys(s.redisUrl, s.redisPrefix).catch(() => null);
  let stack: Stack;
  try {
    stack = await startStack({ redisUrl: s.redisUrl, redisPrefix: s.redisPrefix, timeScale: s.scale, pollIntervalMs: 250, channelIntervalMs: 1000, role: 'none', logger, scenario: s.scenario, ports: s.ports, policyPath });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number };
    if (e.code === 'EADDRINUSE') throw new Error(`${e.port ? `Port ${e.port}` : 'A port'} is already in use (another npm run simulator?); stop it or choose other ports (--help).`);
    throw err;
  }
  // The bot started on its own picks its log format from its terminal; the rest is what the sandbox gives its bot.
  const { LOG_LEVEL: _level, ...rest } = stack.env;
  void _level;
  const env = { ...rest, PORT: String(s.ports.bot) };
  const envFile = join(dir, 'simulator.env');
  mkdirSync(dirname(envFile), { recursive: true });
  writeFileSync(envFile, `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  const botUrl = `http://127.0.0.1:${s.ports.bot}`;
  // The simulated Cloudflare's notifications go to the bot started on its own, on the port this environment names.
  stack.cloudflare.setWebhook({ url: `${botUrl}/webhooks/cloudflare`, secret: stack.env.CLOUDFLARE_WEBHOOK_SECRET ?? '' });
  let chat: net.Server;
  try {
    chat = await serveRemoteChats(stack, botUrl, s.ports.chat);
  } catch (err) {
    await stack.stop();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new Error(`Port ${s.ports.chat} (the chat) is already in use (another npm run simulator?); stop it or pass --chat-port.`);
    throw err;
  }
  const rel = envFile.startsWith(`${process.cwd()}/`) ? envFile.slice(process.cwd().length + 1) : envFile;
  return {
    stack,
    env,
    envFile,
    cleared,
    policyPath,
    botUrl,
    chatPort: s.ports.chat,
    howToStartBot: `set -a; . ${rel}; set +a; npm start`,
    async stop() {
      await new Promise<void>((r) => chat.close(() => r()));
      await stack.stop();
    },
  };
}

/** Whether a bot answers `/healthz` at `botUrl`. */
export async function botAnswers(botUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${botUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * `npm run chat` from another terminal attaches here: each connection gets its own chat on this world (lines in,
 * the chat's output back), talking to the bot at `botUrl`.
 */
async function serveRemoteChats(stack: Stack, botUrl: string, port: number): Promise<net.Server> {
  // Half-open: input may end (a piped script) while the chat still has output to send back.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    void (async () => {
      socket.write(`Attached to the simulated world. Channel #${SANDBOX_CHANNEL.name}. People: ${SANDBOX_USERS.map((u) => `${u.name} (${u.role})`).join(', ')}.\n`);
      if (!(await botAnswers(botUrl))) socket.write(`No bot answers at ${botUrl} yet; start one in another terminal (see the simulator's terminal), then type away.\n`);
      await runChat(chatOptions(stack, senderFor(stack, botUrl), { input: socket, output: socket }));
      socket.end();
    })().catch((err: unknown) => socket.end(`! ${(err as Error).message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}
