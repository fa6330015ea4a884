import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadInFreshProcess } from '../support/fresh-process';

const root = path.join(__dirname, '..', '..');
const IO_PACKAGES = ['fastify', 'kafkajs', 'pg'];

describe('the entry points of @catchall/core', () => {
  beforeAll(() => {
    if (!existsSync(path.join(root, 'core', 'dist', 'domain', 'index.js'))) {
      throw new Error('core is not built: run `npx tsc -b` (npm test builds before it tests)');
    }
  });

  it('given a fresh process, when it requires @catchall/core/domain, then no fastify, kafkajs or pg is loaded', () => {
    const domain = loadInFreshProcess('@catchall/core/domain');
    expect(domain.packages.filter((p) => IO_PACKAGES.includes(p))).toEqual([]);
    // Stricter: the domain rules load no third-party package at all.
    expect(domain.packages).toEqual([]);
    expect(domain.exports).toEqual(
      expect.arrayContaining(['normalizeDomain', 'domainStatus', 'evolve', 'foldEvents']),
    );
  });

  it('given a fresh process, when it requires @catchall/core, then it sees the runtime loaded (the check can fail) and every domain export', () => {
    const whole = loadInFreshProcess('@catchall/core');
    const domain = loadInFreshProcess('@catchall/core/domain');
    expect(whole.packages).toEqual(expect.arrayContaining(IO_PACKAGES));
    expect(whole.exports).toEqual(expect.arrayContaining(domain.exports));
  });
});

describe('tracing off loads no OpenTelemetry SDK', () => {
  const SDK_PACKAGES = [
    '@opentelemetry/sdk-trace-base',
    '@opentelemetry/exporter-trace-otlp-proto',
    '@opentelemetry/resources',
    '@opentelemetry/core',
  ];
  const withTracing = (endpoint: string) =>
    loadInFreshProcess(
      '@catchall/core',
      `loaded.createTracing({ endpoint: ${JSON.stringify(endpoint)}, serviceName: 'x', logger: loaded.createLogger({ name: 'x', level: 'silent' }) });`,
    ).packages.filter((p) => SDK_PACKAGES.includes(p));

  it('given a fresh process, when tracing is made without an endpoint, then no SDK package is loaded; with one, they are (the check can fail)', () => {
    expect(withTracing('')).toEqual([]);
    expect(withTracing('http://127.0.0.1:4318').sort()).toEqual([...SDK_PACKAGES].sort());
  });
});

describe('the entry points of @catchall/schemas', () => {
  beforeAll(() => {
    if (!existsSync(path.join(root, 'schemas', 'dist', 'contract.js'))) {
      throw new Error('schemas is not built: run `npx tsc -b` (npm test builds before it tests)');
    }
  });

  it('given a fresh process, when it requires @catchall/schemas/contract, then no registry client and no fastify, kafkajs or pg is loaded', () => {
    const contract = loadInFreshProcess('@catchall/schemas/contract');
    // avsc reads Avro (pure CPU). The workspace's own packages resolve outside node_modules:
    // the core rule above keeps @catchall/core/domain free of third-party packages.
    expect(contract.packages).toEqual(['avsc']);
    expect(contract.exports).toEqual(
      expect.arrayContaining(['createSchemaDecoder', 'createWireEncoder', 'domainEventSchema']),
    );
    expect(contract.exports).not.toContain('createEventDecoder');
  });

  it('given a fresh process, when it requires @catchall/schemas, then it sees the registry client loaded and every contract export', () => {
    const whole = loadInFreshProcess('@catchall/schemas');
    const contract = loadInFreshProcess('@catchall/schemas/contract');
    expect(whole.packages).toContain('@kafkajs/confluent-schema-registry');
    expect(whole.exports).toEqual(expect.arrayContaining(contract.exports));
  });
});
