import { ConfigError } from './config';
import { AccessRefused } from './kafka-access';
import { failureLine } from './lifecycle';

describe('failureLine', () => {
  it('starts with the catalogue code of a known failure', () => {
    expect(failureLine(new AccessRefused('Kafka refused the SASL authentication'))).toBe(
      'CATCHALL_ACCESS_REFUSED: Kafka refused the SASL authentication',
    );
    expect(failureLine(new ConfigError('Invalid configuration: PORT must be integer'))).toBe(
      'CATCHALL_INVALID_CONFIG: Invalid configuration: PORT must be integer',
    );
  });

  it('is the message alone for any other error, whatever its code', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(failureLine(err)).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(failureLine('a thrown string')).toBe('a thrown string');
  });
});
