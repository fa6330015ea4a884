import pino, { type DestinationStream, type Logger } from 'pino';
import { configFields, isSecret } from './config';

export type { Logger };

/** Secret settings that live in a service's own fields rather than configFields. */
const SERVICE_SECRETS = ['API_TOKENS', 'QUERY_API_TOKENS'];

/**
 * What pino replaces with "[Redacted]" wherever it is logged: the Authorization headers of
 * requests (fastify's request serializer and any `headers` object), every secret setting,
 * should a configuration object be logged, and the password, passphrase, key and token of
 * client options (kafkajs's sasl and ssl, the registry client's auth).
 */
export const REDACTED_PATHS = (() => {
  const secrets = [
    ...Object.entries(configFields)
      .filter(([, schema]) => isSecret(schema))
      .map(([name]) => name),
    ...SERVICE_SECRETS,
  ];
  const keys = ['password', 'passphrase', 'token', ...secrets];
  return [
    'req.headers.authorization',
    'req.headers["proxy-authorization"]',
    'headers.authorization',
    'headers["proxy-authorization"]',
    '*.headers.authorization',
    '*.headers["proxy-authorization"]',
    'ssl.key',
    '*.ssl.key',
    ...keys.flatMap((key) => [key, `*.${key}`]),
  ];
})();

/** Structured JSON logs; secrets in request headers and settings are never written. */
export function createLogger(options: {
  name: string;
  /** A pino level name (`LevelWithSilent`: trace to fatal, or silent), as configured. */
  level: string;
  /** File descriptor of the log stream: 1 (stdout, the default) or 2 (stderr). */
  destination?: 1 | 2 | DestinationStream;
}): Logger {
  const settings = { name: options.name, level: options.level, redact: REDACTED_PATHS };
  if (options.destination === 2) return pino(settings, pino.destination({ fd: 2, sync: true }));
  if (typeof options.destination === 'object') return pino(settings, options.destination);
  return pino(settings);
}
