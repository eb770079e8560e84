import { pino, type Logger, type DestinationStream } from 'pino';
import { build as prettyStream } from 'pino-pretty';

/** Paths pino blanks out wherever they appear in a log object: tokens, secrets, auth headers. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'botToken',
  '*.botToken',
  'appToken',
  '*.appToken',
  'signingSecret',
  '*.signingSecret',
  'apiToken',
  '*.apiToken',
  'cloudflareApiToken',
  '*.cloudflareApiToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-slack-signature"]',
  '*.headers["x-slack-signature"]',
  'password',
  '*.password',
  'secret',
  '*.secret',
];

const SECRET_PATTERNS: RegExp[] = [
  /xox[abpors]-[A-Za-z0-9-]+/g, // Slack bot / user tokens
  /xapp-[A-Za-z0-9-]+/g, // Slack app-level tokens
  /Bearer\s+[A-Za-z0-9._~+/=-]+/g,
];

/** Masks token-shaped strings inside free text (error messages can quote a header). */
export function scrubSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((t, re) => t.replace(re, '[REDACTED]'), text);
}

const SECRET_KEY = /(token|secret|password|authorization|api[-_]?key|cookie|signature)$/i;

function deepScrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => deepScrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? '[REDACTED]' : deepScrub(v, depth + 1);
  return out;
}

/**
 * Readable lines (pino-pretty) on a terminal or with LOG_PRETTY=1; JSON otherwise (production, pipes, files), and
 * always with LOG_PRETTY=0.
 */
export function wantsPrettyLogs(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stdout): boolean {
  if (env.LOG_PRETTY === '1' || env.LOG_PRETTY === 'true') return true;
  if (env.LOG_PRETTY === '0' || env.LOG_PRETTY === 'false') return false;
  return stream.isTTY === true;
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Where lines go (stdout by default). */
  destination?: DestinationStream;
  /** Human-readable lines instead of JSON (redaction applies all the same). */
  pretty?: boolean | { colorize?: boolean };
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const destination = opts.pretty
    ? prettyStream({
        colorize: typeof opts.pretty === 'object' ? (opts.pretty.colorize ?? false) : !opts.destination && process.stdout.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        sync: true,
        ...(opts.destination ? { destination: opts.destination as unknown as NodeJS.WritableStream } : {}),
      })
    : opts.destination;
  return pino(
    {
      name: opts.name ?? 'byoip-bot',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: {
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          // log.error(err) would copy err.message into msg unscrubbed: log it as { err } with a scrubbed message.
          const head: unknown[] = first instanceof Error ? [{ err: first }, ...(rest.length ? [] : [first.message])] : [first];
          const scrubbed = [...head, ...rest].map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
      formatters: {
        level: (label) => ({ level: label }),
        // Any key that names a secret, at any depth and in any case, is blanked; token-shaped strings are masked.
        log: (obj) => deepScrub(obj, 0) as Record<string, unknown>,
      },
      serializers: {
        err: (err: unknown) => {
          const s = pino.stdSerializers.err(err as Error);
          return { ...s, message: scrubSecrets(s.message ?? ''), stack: s.stack ? scrubSecrets(s.stack) : undefined };
        },
      },
    },
    destination,
  );
}

export type { Logger };
