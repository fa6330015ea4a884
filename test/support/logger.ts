import pino from 'pino';

/** Quiet by default; CATCHALL_TEST_LOG_LEVEL=debug shows the services' logs in tests. */
export function testLogger(name = 'test') {
  return pino({ name, level: process.env.CATCHALL_TEST_LOG_LEVEL ?? 'silent' });
}
