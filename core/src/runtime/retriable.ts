/**
 * Node's socket and DNS error codes that mean "the peer could not be reached now": the same
 * call may succeed later.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

import { KafkaJSNumberOfRetriesExceeded } from 'kafkajs';

/** Errors that come from a bug in the calling code: retrying never helps. */
const PROGRAMMER_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError] as const;

/** A TypeError, RangeError, ReferenceError or SyntaxError: a bug, never worth a retry. */
export function isProgrammerError(err: unknown): boolean {
  return PROGRAMMER_ERRORS.some((type) => err instanceof type);
}

/**
 * Whether the operation that threw `err` may succeed if tried again unchanged. The one
 * place retry logic asks (the projector's pause, the ingest answer, the query API's 503):
 * - kafkajs's KafkaJSNumberOfRetriesExceeded says that kafkajs stopped retrying, not that the
 *   operation cannot succeed later: its cause decides (as kafkajs's own consumer restart);
 * - an error that says so itself (`retriable`: ours, kafkajs's KafkaJSError) is believed;
 * - a programmer error (TypeError, RangeError, ReferenceError, SyntaxError) is not retriable;
 * - a network failure (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ...) is retriable;
 * - otherwise its `cause` decides, and an error nothing is known of is not retriable.
 */
export function isRetriable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (err instanceof KafkaJSNumberOfRetriesExceeded) {
    const cause = (err as { cause?: unknown }).cause;
    return cause !== err && isRetriable(cause);
  }
  const flag = (err as { retriable?: unknown }).retriable;
  if (typeof flag === 'boolean') return flag;
  if (isProgrammerError(err)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  const cause = (err as { cause?: unknown }).cause;
  return cause !== undefined && cause !== err && isRetriable(cause);
}
