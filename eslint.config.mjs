import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const infrastructure = ['fastify', 'fastify/*', 'kafkajs', 'pg', '@fastify/*'];
const services = ['@catchall/producer-api', '@catchall/consumer', '@catchall/query-api'];

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
    // The domain rules and the contract are pure: no I/O libraries.
    files: ['core/src/domain/**/*.ts', 'schemas/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: infrastructure,
              message: 'Domain rules and schemas stay free of I/O libraries.',
            },
          ],
        },
      ],
    },
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
