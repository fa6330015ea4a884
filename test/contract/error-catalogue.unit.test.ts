import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ConfigError,
  ErrorBody,
  HTTP_ERROR_CODES,
  NotReady,
  PostgresFailure,
  ShutdownFailed,
  errorCatalogue,
  errors,
  codesAnsweredBy,
  isRetriable,
  type ErrorDefinition,
  type ErrorName,
} from '@catchall/core';
import { ClusterMismatch, GroupError, VersionError } from '@catchall/consumer';
import { DecodeError, RegistryError, SchemaIdNotYetKnown } from '@catchall/schemas';
import { RebuildRefused } from '../../consumer/src/rebuild-offsets';

const root = path.join(__dirname, '..', '..');
const packages = ['core', 'schemas', 'producer-api', 'consumer', 'query-api'];
const catalogueFile = path.join('core', 'src', 'domain', 'error-catalogue.ts');

/** The source files of the packages that ship, tests excluded, by path from the root. */
function sources(): Map<string, string> {
  const files = new Map<string, string>();
  for (const pkg of packages) {
    const dir = path.join(root, pkg, 'src');
    for (const f of readdirSync(dir, { recursive: true }) as string[]) {
      if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
      files.set(path.join(pkg, 'src', f), readFileSync(path.join(dir, f), 'utf8'));
    }
  }
  return files;
}

/** The README's section `## <title>` up to the next section. */
function readmeSection(title: string): string {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

const entries = Object.entries(errorCatalogue) as [ErrorName, ErrorDefinition][];
const httpEntries = entries.filter(([, e]) => e.statusCode !== undefined);
const internalEntries = entries.filter(([, e]) => e.statusCode === undefined);
const catalogueCodes = new Set(entries.map(([, e]) => e.code));

describe('the error catalogue', () => {
  it('gives every entry a unique CATCHALL_ code, and HTTP entries an error status', () => {
    expect(catalogueCodes.size).toBe(entries.length);
    for (const [, e] of entries) expect(e.code).toMatch(/^CATCHALL_[A-Z_]+$/);
    for (const [, e] of httpEntries) {
      expect(e.statusCode).toBeGreaterThanOrEqual(400);
      expect(e.statusCode).toBeLessThanOrEqual(599);
      expect(Array.isArray(e.answeredBy)).toBe(true);
    }
    for (const [, e] of internalEntries) expect(e.answeredBy).toBeUndefined();
  });

  it("marks each code an API's own source answers with as answered by that API", () => {
    const unmarked: string[] = [];
    const seen = { ingest: new Set<string>(), query: new Set<string>() };
    for (const [api, pkg] of [
      ['ingest', 'producer-api'],
      ['query', 'query-api'],
    ] as const) {
      for (const [file, text] of sources()) {
        if (!file.startsWith(`${pkg}${path.sep}`)) continue;
        for (const [, name] of text.matchAll(/\berrors\.(\w+)\(/g)) {
          seen[api].add(name!);
          const entry = errorCatalogue[name as ErrorName] as ErrorDefinition | undefined;
          if (!entry?.answeredBy?.includes(api)) unmarked.push(`${file}: ${name} (${api})`);
        }
      }
    }
    expect(unmarked).toEqual([]);
    // The scan sees the routes' own errors.
    expect([...seen.ingest]).toEqual(expect.arrayContaining(['invalidBatch', 'overloaded']));
    expect([...seen.query]).toEqual(expect.arrayContaining(['domainNotSeen', 'invalidCursor']));
    expect(codesAnsweredBy('ingest')).toContain(errorCatalogue.invalidBatch.code);
  });

  it('marks exactly the HTTP answers worth retrying as retriable (408, 429, 503)', () => {
    for (const [, e] of httpEntries) {
      expect(e.retriable).toBe([408, 429, 503].includes(e.statusCode!));
    }
  });

  it('makes each HTTP answer with the code, status and retriable flag of its entry', () => {
    expect(Object.keys(errors).sort()).toEqual(httpEntries.map(([name]) => name).sort());
    for (const [name, e] of httpEntries) {
      const made = errors[name as keyof typeof errors]('x', 'y');
      expect(made).toMatchObject({
        code: e.code,
        statusCode: e.statusCode,
        retriable: e.retriable,
      });
      expect(isRetriable(made)).toBe(e.retriable);
    }
  });

  it('documents every code in the README, and documents no code it does not hold', () => {
    const section = readmeSection('Errors');
    for (const [, e] of httpEntries)
      expect(section).toContain(`| \`${e.code}\` | ${e.statusCode} |`);
    for (const [, e] of internalEntries) {
      expect(section).toContain(`| \`${e.code}\` | ${e.retriable ? 'yes' : 'no'} |`);
    }
    const documented = [...section.matchAll(/^\| `(CATCHALL_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.filter((code) => !catalogueCodes.has(code as never))).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('lists every HTTP code, and only those, in the OpenAPI error body', () => {
    expect([...HTTP_ERROR_CODES].sort()).toEqual(httpEntries.map(([, e]) => e.code).sort());
    expect(ErrorBody.properties.code).toMatchObject({ enum: HTTP_ERROR_CODES });
  });

  it('holds every code the code names: no CATCHALL_ literal outside the catalogue', () => {
    const strays: string[] = [];
    for (const [file, text] of sources()) {
      for (const [code] of text.matchAll(/CATCHALL_[A-Z_]+/g)) {
        if (!catalogueCodes.has(code as never)) strays.push(`${file}: ${code}`);
      }
      if (file === catalogueFile) continue;
      // Quoted as a string; comments name codes in backquotes, which is documentation.
      for (const [literal] of text.matchAll(/['"]CATCHALL_[A-Z_]+['"]/g)) {
        strays.push(`${file}: ${literal} (take it from errorCatalogue)`);
      }
    }
    expect(strays).toEqual([]);
  });

  it('uses every entry somewhere', () => {
    const code = [...sources()]
      .filter(([file]) => file !== catalogueFile)
      .map(([, text]) => text)
      .join('\n');
    const unused = entries
      .map(([name]) => name)
      .filter(
        (name) =>
          !code.includes(`errors.${name}(`) &&
          !code.includes(`errorCatalogue.${name}`) &&
          !code.includes(`'${name}'`),
      );
    expect(unused).toEqual([]);
  });

  it('makes no plain Error in the services (thrown or rejected): every error carries a code of the catalogue', () => {
    const plain = [...sources()]
      .filter(([, text]) => /\bnew Error\(/.test(text))
      .map(([file]) => file);
    expect(plain).toEqual([]);
  });

  it('gives every error class of the services a code and retriable flag from one entry', () => {
    const unmapped: string[] = [];
    const found: string[] = [];
    for (const [file, text] of sources()) {
      for (const match of text.matchAll(/class (\w+) extends Error \{([\s\S]*?)\n\}/g)) {
        const [, name, body] = match;
        found.push(name!);
        const code = /readonly code[^=;]*=\s*errorCatalogue\.(\w+)\.code;/.exec(body!)?.[1];
        const flag = /readonly retriable[^=;]*=\s*errorCatalogue\.(\w+)\.retriable;/.exec(
          body!,
        )?.[1];
        // Classes that take the entry's name as an argument set both from it in one place.
        const byName = /(?:this\.code|const entry) = errorCatalogue\[/.test(body!);
        if (!byName && (code === undefined || code !== flag)) unmapped.push(`${file}: ${name}`);
      }
    }
    // The scan sees the classes it is meant to see, the unexported ones too.
    expect(found).toEqual(
      expect.arrayContaining(['PostgresFailure', 'RegistryError', 'UsageError', 'LookupTimeout']),
    );
    expect(unmapped).toEqual([]);
  });

  it.each<[string, Error, ErrorName]>([
    [
      'PostgresFailure unavailable',
      new PostgresFailure('unavailable', '08006', new Error('x')),
      'postgresUnavailable',
    ],
    [
      'PostgresFailure refused',
      new PostgresFailure('refused', '23514', new Error('x')),
      'postgresRefused',
    ],
    [
      'PostgresFailure failed',
      new PostgresFailure('failed', '42703', new Error('x')),
      'postgresFailed',
    ],
    ['DecodeError', new DecodeError('undecodable', 'x'), 'undecodable'],
    ['SchemaIdNotYetKnown', new SchemaIdNotYetKnown('x'), 'schemaIdUnknown'],
    [
      'RegistryError unavailable',
      new RegistryError('x', 'registryUnavailable'),
      'registryUnavailable',
    ],
    ['RegistryError rejected', new RegistryError('x', 'schemaRejected'), 'schemaRejected'],
    ['ConfigError', new ConfigError('x'), 'invalidConfig'],
    ['ClusterMismatch', new ClusterMismatch('x'), 'clusterMismatch'],
    ['GroupError', new GroupError(new Error('x')), 'consumerGroup'],
    ['VersionError', new VersionError('x'), 'readModelVersion'],
    ['RebuildRefused', new RebuildRefused('x'), 'rebuildRefused'],
    ['NotReady', new NotReady('x'), 'notReady'],
    ['ShutdownFailed', new ShutdownFailed('x'), 'shutdownFailed'],
  ])('%s carries the code and retriable flag of its entry', (_, err, name) => {
    const entry = errorCatalogue[name];
    expect(err).toMatchObject({ code: entry.code, retriable: entry.retriable });
    expect(isRetriable(err)).toBe(entry.retriable);
  });
});
