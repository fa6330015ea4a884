import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

describe('a service started with a wrong configuration', () => {
  it.each(['producer-api', 'consumer', 'query-api'])(
    '%s exits 1 with a message naming the variable',
    (service) => {
      const result = spawnSync(process.execPath, [path.join(ROOT, service, 'dist', 'main.js')], {
        env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'info' },
        encoding: 'utf8',
        timeout: 20000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/Invalid configuration: PORT must be integer \(got "eighty"\)/);
    },
  );
});
