import { parseArgs } from 'node:util';
import { startBot, type Role } from './app.js';
import { loadConfig } from './config.js';
import { isBotError, userMessageOf } from './errors.js';
import { createLogger, scrubSecrets } from './logger.js';

/** `npm start` (listener + workers), `npm run worker` (workers only), or `--role web` (listener only). */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { role: { type: 'string', default: 'all' } } });
  const role = values.role as Role;
  if (!['all', 'web', 'worker'].includes(role)) {
    console.error(`--role must be all, web or worker (got "${role}")`);
    process.exit(2);
  }
  const logger = createLogger();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    fatal(logger, err);
  }
  logger.level = config.logLevel;
  // A stray rejected promise must not take the process (and every in-flight click) down: log it loudly instead.
  // Operations live in Redis, so even a crash loses nothing, but a crash is still a gap in service.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));
  try {
    const bot = await startBot({ config, logger, role });
    const stop = async (signal: string) => {
      logger.info({ signal }, 'shutting down');
      await bot.stop();
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  } catch (err) {
    fatal(logger, err);
  }
}

/** A start-up failure is said on stderr in plain words whatever the log level, then the process exits 1. */
function fatal(logger: ReturnType<typeof createLogger>, err: unknown): never {
  const message = userMessageOf(err);
  logger.fatal({ err }, message);
  process.stderr.write(`byoip-bot cannot start: ${isBotError(err) ? message : scrubSecrets(String((err as Error)?.message ?? err))}\n`);
  process.exit(1);
}

void main();
