import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { errors } from './errors';

const root = path.join(__dirname, '..', '..', '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

/** The services' and core's source, tests excluded. */
function sources(): string {
  return ['core', 'producer-api', 'consumer', 'query-api']
    .flatMap((pkg) =>
      (readdirSync(path.join(root, pkg, 'src'), { recursive: true }) as string[])
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => readFileSync(path.join(root, pkg, 'src', f), 'utf8')),
    )
    .join('\n');
}

describe('the error catalogue', () => {
  const made = Object.values(errors).map((make) => make('x', 'y'));

  it('gives every error a unique CATCHALL_ code and an HTTP status', () => {
    const codes = made.map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const e of made) {
      expect(e.code).toMatch(/^CATCHALL_[A-Z_]+$/);
      expect(e.statusCode).toBeGreaterThanOrEqual(400);
    }
  });

  it('documents every code in the README error table', () => {
    for (const e of made) expect(readme).toContain(`| \`${e.code}\` | ${e.statusCode} |`);
  });

  it('uses every error somewhere', () => {
    const code = sources();
    for (const name of Object.keys(errors)) expect(code).toContain(`errors.${name}(`);
  });

  it('marks exactly the errors worth retrying as retriable (408, 429, 503)', () => {
    for (const e of made) expect(e.retriable).toBe([408, 429, 503].includes(e.statusCode));
  });
});
