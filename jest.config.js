// One jest project per kind of test, told apart by file name (CONTRIBUTING.md, "Tests").
const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@catchall/(core|schemas|consumer|producer-api|query-api|scripts)$': '<rootDir>/$1/src',
    '^@catchall/core/domain$': '<rootDir>/core/src/domain',
    '^@catchall/schemas/contract$': '<rootDir>/schemas/src/contract',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/**/*.unit.test.ts'] },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/**/*.int.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/timeouts.ts'],
      slowTestThreshold: 30,
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/**/*.e2e.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/timeouts.ts'],
      slowTestThreshold: 60,
    },
  ],
};
