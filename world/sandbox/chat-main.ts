import net from 'node:net';
import { createLogger } from '../../src/logger.js';
import { INTERRUPT_LINE, runChat } from './chat.js';
import { chatOptions, senderFor } from './session.js';
import { botAnswers, parseStandaloneArgs, startStandalone, STANDALONE_USAGE } from './standalone.js';
import { SANDBOX_CHANNEL, SANDBOX_USERS } from './stack.js';

const USAGE = `npm run chat [-- options]

The terminal chat of the sandbox, for a bot you start yourself. It attaches to the simulated world of
npm run simulator (on --chat-port); when none runs, it starts that world itself, here, and prints how to start the
bot against it. Type help in the chat for its commands; Ctrl-C stops a wait, Ctrl-D or quit leaves.
${STANDALONE_USAGE}`;

/** Connects to a running simulator's chat port, or null when nothing listens there. */
function connect(port: number): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

/** Terminal <-> the simulator's chat: lines go there, its output comes here; Ctrl-C stops a wait over there. */
function attach(socket: net.Socket): Promise<number> {
  return new Promise((resolve) => {
    let lastInterrupt = 0;
    process.on('SIGINT', () => {
      // Twice within a second: leave.
      if (Date.now() - lastInterrupt < 1000) return resolve(130);
      lastInterrupt = Date.now();
      socket.write(`${INTERRUPT_LINE}\n`);
    });
    socket.pipe(process.stdout);
    process.stdin.pipe(socket);
    socket.once('close', () => resolve(0));
    socket.once('error', () => resolve(1));
  });
}

async function main(): Promise<number> {
  const parsed = parseStandaloneArgs(process.argv.slice(2), 'npm run chat');
  if ('error' in parsed) {
    console.error(parsed.error);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const s = parsed.settings;
  const socket = await connect(s.ports.chat);
  if (socket) return attach(socket);

  // No simulator yet: this terminal runs the world and the chat; the bot goes in another one.
  const logger = createLogger({ name: 'simulator', level: process.env.LOG_LEVEL ?? 'warn', pretty: { colorize: false } });
  const world = await startStandalone(s, logger);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`No simulator was running, so this terminal runs one (time x${s.scale}, scenario ${s.scenario}); its environment is in ${world.envFile}.`);
  say(`Start the bot in another terminal:   ${world.howToStartBot}`);
  say(`Channel #${SANDBOX_CHANNEL.name}. People: ${SANDBOX_USERS.map((u) => `${u.name} (${u.role})`).join(', ')}.`);
  if (!(await botAnswers(world.botUrl))) say(`(No bot answers at ${world.botUrl} yet: commands fail until it does.)`);
  try {
    return await runChat(chatOptions(world.stack, senderFor(world.stack, world.botUrl), { input: process.stdin, output: process.stdout, handleSigint: true }));
  } finally {
    await world.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);
