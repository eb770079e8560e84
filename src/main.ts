import { parseArgs } from 'node:util';
import { startBot, type Role } from './app.js';
import { loadConfig } from './config.js';
import { isBotError, userMessageOf } from './errors.js';
import { createLogger, scrubSecrets, wantsPrettyLogs } from './logger.js';

/** `npm start` (listener + workers), `npm run worker` (workers only), or `--role web` (listener only). */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { role: { type: 'string', default: 'all' } } });
  const role = values.role as Role;
  if (!['all', 'web', 'worker'].includes(role)) {
    console.error(`--role must be all, web or worker (got "${role}")`);
    process.exit(2);
  }
  const logger = createLogger({ pretty: wantsPrettyLogs() });
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
    let stopping = false;
    const stop = async (signal: string) => {
      // A second signal while stopping means now.
      if (stopping) process.exit(1);
      stopping = true;
      logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
      const started = Date.now();
      await bot.stop();
      logger.info({ ms: Date.now() - started }, 'stopped');
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  } catch (err) {
    fatal(logger, err);
  }
}

/** A start-up failure is said on stderr in one line of plain words whatever the log level, then the process exits 1. */
function fatal(logger: ReturnType<typeof createLogger>, err: unknown): never {
  const message = userMessageOf(err);
  logger.fatal({ err }, message);
  const why = isBotError(err) ? message : scrubSecrets(String((err as Error)?.message ?? err));
  process.stderr.write(`byoip-bot cannot start: ${why.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

void main();
