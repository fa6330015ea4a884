import { Type } from '@sinclair/typebox';
import { ConfigError, configFields, loadConfig } from './config';

const fields = {
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: configFields.LOG_LEVEL,
  KAFKA_BROKERS: configFields.KAFKA_BROKERS,
};

describe('loadConfig', () => {
  it('gives the documented defaults when nothing is set', () => {
    expect(loadConfig(fields, {})).toEqual({
      PORT: 3000,
      LOG_LEVEL: 'info',
      KAFKA_BROKERS: '127.0.0.1:9092',
    });
  });

  it('coerces values from strings', () => {
    expect(loadConfig(fields, { PORT: '8080' }).PORT).toBe(8080);
  });

  it('refuses a wrong value with a message that names the variable and the value', () => {
    expect(() => loadConfig(fields, { PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig(fields, { PORT: 'eighty' })).toThrow(
      /PORT must be integer \(got "eighty"\)/,
    );
  });

  it('names every wrong variable at once', () => {
    expect(() => loadConfig(fields, { PORT: '70000', LOG_LEVEL: 'loud' })).toThrow(
      /PORT.*LOG_LEVEL|LOG_LEVEL.*PORT/,
    );
  });
});
