import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import jest from 'eslint-plugin-jest';

// Libraries that do I/O: servers, clients of Kafka, Postgres and the schema registry.
const ioLibraries = [
  'fastify',
  'fastify/*',
  '@fastify/*',
  'kafkajs',
  'kafkajs/*',
  'kafkajs-*',
  'pg',
  'pg/*',
  'pg-*',
  'node-pg-migrate',
  '@kafkajs/confluent-schema-registry',
  'undici',
  'prom-client',
  'pino',
];
// Node's own modules that reach files, the network or other processes.
const ioBuiltins = [
  'fs',
  'fs/*',
  'node:fs',
  'node:fs/*',
  'net',
  'node:net',
  'tls',
  'node:tls',
  'dgram',
  'node:dgram',
  'dns',
  'dns/*',
  'node:dns',
  'node:dns/*',
  'http',
  'node:http',
  'https',
  'node:https',
  'http2',
  'node:http2',
  'child_process',
  'node:child_process',
  'cluster',
  'node:cluster',
  'worker_threads',
  'node:worker_threads',
];
// The whole core loads the service runtime (fastify, kafkajs, pg); its domain rules alone do not.
const wholeCore = {
  name: '@catchall/core',
  message: 'Import the domain rules from @catchall/core/domain: @catchall/core loads the runtime.',
};
const services = ['@catchall/producer-api', '@catchall/consumer', '@catchall/query-api'];
// The global fetch is I/O too (schemas/src/registry.ts talks to the registry with it).
const ioGlobals = ['fetch', 'WebSocket', 'XMLHttpRequest'].map((name) => ({
  name,
  message: 'Pure code does no I/O: take the result as an argument instead.',
}));

/**
 * Rules of a pure module: no I/O library, no I/O built-in, no fetch, no other service, and
 * the `extra` patterns and `paths` (exact module names).
 */
function pure(message, { builtins = ioBuiltins, extra = [], paths = [] } = {}) {
  return {
    'no-restricted-imports': [
      'error',
      {
        paths,
        patterns: [
          { group: [...ioLibraries, ...builtins], message },
          ...extra,
          { group: services, message: 'Services do not import each other.' },
        ],
      },
    ],
    'no-restricted-globals': ['error', ...ioGlobals],
  };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.local/**', 'coverage/**', '**/target/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Type-aware rules: a promise nobody awaits or handles (its rejection lost, its work
    // racing what follows), a promise where a plain value is expected (an async callback
    // whose rejection nothing sees), and `await` on what is not a promise. Each program's
    // tsconfig gives the types (the project service); tests are in none of them and take
    // tsconfig.test.json, which `npm test` type-checks them with.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  ...tseslint.configs.recommendedTypeCheckedOnly.map((config) => ({
    ...config,
    // The whole type-checked set on the code that ships. Tests read answers as JSON (`any`)
    // and check their shape with expect, which the no-unsafe-* rules would ask to type first;
    // they, the benchmarks, the examples and the scripts that start the infrastructure keep
    // the promise rules above.
    files: ['**/*.ts'],
    ignores: ['**/*.test.ts', 'test/**', 'bench/**', 'examples/**', 'scripts/**'],
  })),
  {
    files: ['**/*.ts'],
    ignores: ['**/*.test.ts', 'test/**', 'bench/**', 'examples/**', 'scripts/**'],
    rules: {
      // Off: an async function without await is how a check or handler that may throw
      // returns a rejected promise (readiness checks, fastify handlers, close functions).
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: false,
        project: './tsconfig.test.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    // Configuration enters once: only config modules, entry points and tooling read it.
    files: ['**/src/**/*.ts'],
    ignores: ['**/main.ts', '**/*-cli.ts', 'scripts/**', '**/*.test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration in main.ts and pass it down.',
        },
      ],
    },
  },
  {
    // The domain rules are pure (ARCHITECTURE.md, section 7 "Boundaries"): no I/O, and nothing of the
    // service runtime, so that `@catchall/core/domain` loads without fastify, kafkajs or pg.
    files: ['core/src/domain/**/*.ts'],
    rules: pure('The domain rules stay free of I/O.', {
      extra: [
        {
          group: ['../runtime', '../runtime/*', '../index', '@catchall/*'],
          message: 'The domain rules import nothing of the runtime or of other packages.',
        },
      ],
    }),
  },
  {
    // The pure part of the contract (ARCHITECTURE.md, section 7 "Boundaries"), the entry point
    // `@catchall/schemas/contract`: decode errors, the wire format, the decoder behind its lookup
    // port and the reading of any writer schema. registry.ts, registry-access.ts and codec.ts talk
    // to the registry;
    // they and index.ts (which re-exports them) are the I/O side of schemas/.
    // Every other file is pure by default: a new one is held without being listed.
    files: ['schemas/src/**/*.ts'],
    ignores: [
      'schemas/src/registry.ts',
      'schemas/src/registry-access.ts',
      'schemas/src/codec.ts',
      'schemas/src/index.ts',
      'schemas/src/domain-event.ts',
      'schemas/src/**/*.test.ts',
    ],
    rules: pure('The pure part of schemas/ stays free of I/O.', {
      extra: [
        {
          group: ['./registry', './registry-access', './codec', './index'],
          message:
            'Pure contract code does not import the registry side of schemas/ (codec, registry).',
        },
      ],
      paths: [wholeCore],
    }),
  },
  {
    // The contract's type and subject name. It reads domain-event.avsc once when loaded (the
    // one definition of the contract), so node:fs and node:path are its only I/O.
    files: ['schemas/src/domain-event.ts'],
    rules: pure('domain-event.ts only reads its .avsc file.', {
      builtins: ioBuiltins.filter((m) => !/^(node:)?fs$/.test(m)),
      extra: [
        {
          group: ['./registry', './registry-access', './codec', './index'],
          message: 'The contract does not import the registry side of schemas/ (codec, registry).',
        },
      ],
      paths: [wholeCore],
    }),
  },
  {
    // Services never import each other; what they share lives in core or schemas.
    files: ['producer-api/src/**/*.ts', 'consumer/src/**/*.ts', 'query-api/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: services, message: 'Services do not import each other.' }] },
      ],
    },
  },
  {
    // Tests (CONTRIBUTING.md, "Tests"): jest's recommended rules; none focused or skipped,
    // and every test asserts, through expect or a helper named here that fails the test
    // itself (waitFor throws when its condition is not met in time).
    files: ['**/*.test.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      // Off: tests that walk a table, a manifest or an answer stream check each item by
      // its kind (config-docs, k8s, the ingest outage), which is an expect under an if.
      'jest/no-conditional-expect': 'off',
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      'jest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*', 'waitFor'] }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
