import { configFields, loadConfig } from '@catchall/core';
import { serviceEnv } from './service-env';

const serviceFields = { DATABASE_URL: configFields.DATABASE_URL };

describe('the environment of the services npm start spawns', () => {
  it('given DATABASE_URL_FILE, passes the DATABASE_URL the start read and not the file', () => {
    const env = serviceEnv(
      { DATABASE_URL_FILE: '/run/secrets/database-url', LOG_LEVEL: 'debug' },
      { DATABASE_URL: 'postgres://app:secret@db.example/catchall', PORT: '3000' },
    );
    expect(env).toEqual({
      DATABASE_URL: 'postgres://app:secret@db.example/catchall',
      PORT: '3000',
      LOG_LEVEL: 'debug',
    });
    // What the service's configuration makes of it: the URL, not "set one, not both".
    expect(loadConfig(serviceFields, env).DATABASE_URL).toBe(
      'postgres://app:secret@db.example/catchall',
    );
  });

  it('passes on the _FILE form of a secret the start does not set, for the service to read', () => {
    const env = serviceEnv(
      { SCHEMA_REGISTRY_TOKEN_FILE: '/run/secrets/registry-token', API_TOKENS_FILE: '/t' },
      { SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081' },
    );
    expect(env).toEqual({
      SCHEMA_REGISTRY_TOKEN_FILE: '/run/secrets/registry-token',
      API_TOKENS_FILE: '/t',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
    });
  });

  it('replaces a value the start was given with the one it passes, and leaves its own env as it was', () => {
    const parent = { DATABASE_URL: 'postgres://elsewhere/x', PORT: '80' };
    const env = serviceEnv(parent, { DATABASE_URL: 'postgres://here/catchall', PORT: '3001' });
    expect(env).toEqual({ DATABASE_URL: 'postgres://here/catchall', PORT: '3001' });
    expect(parent).toEqual({ DATABASE_URL: 'postgres://elsewhere/x', PORT: '80' });
  });
});
