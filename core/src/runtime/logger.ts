import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs; secrets in request headers are never written. */
export function createLogger(options: {
  name: string;
  /** A pino level name (`LevelWithSilent`: trace to fatal, or silent), as configured. */
  level: string;
  /** File descriptor of the log stream: 1 (stdout, the default) or 2 (stderr). */
  destination?: 1 | 2;
}): Logger {
  const settings = {
    name: options.name,
    level: options.level,
    redact: ['req.headers.authorization', 'headers.authorization'],
  };
  return options.destination === 2
    ? pino(settings, pino.destination({ fd: 2, sync: true }))
    : pino(settings);
}
