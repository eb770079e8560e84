import { parseArgs } from 'node:util';
import { startBot, type Role } from './app.js';
import { loadConfig } from './config.js';
import { userMessageOf } from './errors.js';
import { createLogger } from './logger.js';

/** `npm start` (listener + workers), `npm run worker` (workers only), or `--role web` (listener only). */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { role: { type: 'string', default: 'all' } } });
  const role = values.role as Role;
  if (!['all', 'web', 'worker'].includes(role)) {
    console.error(`--role must be all, web or worker (got "${role}")`);
    process.exit(2);
  }
  const logger = createLogger();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    logger.fatal(userMessageOf(err));
    process.exit(1);
  }
  logger.level = config.logLevel;
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
    logger.fatal({ err }, userMessageOf(err));
    process.exit(1);
  }
}

void main();
