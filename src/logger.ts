import { pino, type Logger, type DestinationStream } from 'pino';

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

export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'byoip-bot',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
      serializers: {
        err: (err: unknown) => {
          const s = pino.stdSerializers.err(err as Error);
          return { ...s, message: scrubSecrets(s.message ?? ''), stack: s.stack ? scrubSecrets(s.stack) : undefined };
        },
      },
    },
    opts.destination,
  );
}

export type { Logger };
