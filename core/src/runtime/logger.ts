import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Structured JSON logs; secrets in request headers are never written. */
export function createLogger(options: { name: string; level: LevelWithSilent | string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    redact: ['req.headers.authorization', 'headers.authorization'],
  });
}
