#!/usr/bin/env node
// The two commands of the README, complete on a fresh clone: installs what package-lock.json
// pins (only when it changed), builds, then starts the system or runs the whole test suite.
// Plain JavaScript with no dependencies, since it runs before anything is installed.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function step(title, command, args) {
  console.log(`\n> ${title}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`${title} failed (exit code ${result.status})`);
    process.exit(result.status ?? 1);
  }
}

/** Installed after the last change of the lock file and of the dependency patches. */
function installIsCurrent() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return false;
  const patches = path.join(root, 'patches');
  const inputs = [
    path.join(root, 'package-lock.json'),
    ...readdirSync(patches).map((f) => path.join(patches, f)),
  ];
  const installed = statSync(marker).mtimeMs;
  return inputs.every((file) => statSync(file).mtimeMs <= installed);
}

/** Python tools of the test suite (scripts/python-requirements.txt), installed once. */
function installPythonTools() {
  const requirements = path.join(root, 'scripts', 'python-requirements.txt');
  const target = path.join(root, '.local', 'python');
  const marker = path.join(target, '.installed');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(requirements).mtimeMs) return;
  step('installing Python test tools (pip)', 'python3', [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--upgrade',
    '--target',
    target,
    '-r',
    requirements,
  ]);
  writeFileSync(marker, new Date().toISOString());
}

/** True when `python` runs and is Python 3.13. */
function isPython313(python) {
  const result = spawnSync(python, ['-c', 'import sys; print(sys.version_info[:2] == (3, 13))'], {
    encoding: 'utf8',
  });
  return result.status === 0 && result.stdout.trim() === 'True';
}

/** Python 3.13: `python3.13` on PATH, else the newest 3.13 that pyenv installed. */
function findPython313() {
  const pyenvRoot = process.env.PYENV_ROOT || path.join(os.homedir(), '.pyenv');
  const versions = path.join(pyenvRoot, 'versions');
  const pyenv = existsSync(versions)
    ? readdirSync(versions)
        .filter((v) => /^3\.13\.\d+$/.test(v))
        .sort((a, b) => Number(b.split('.')[2]) - Number(a.split('.')[2]))
        .map((v) => path.join(versions, v, 'bin', 'python3.13'))
    : [];
  return ['python3.13', ...pyenv].find(isPython313);
}

/**
 * The API fuzzer (scripts/fuzz-requirements.txt) in a virtual environment of its own, made
 * with Python 3.13 (schemathesis's coverage phase crashed on 3.11.7, a CPython bug).
 */
function installFuzzer() {
  const requirements = path.join(root, 'scripts', 'fuzz-requirements.txt');
  const venv = path.join(root, '.local', 'schemathesis');
  const marker = path.join(venv, '.installed');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(requirements).mtimeMs) return;
  const python = findPython313();
  if (python === undefined) {
    console.error(
      'The test suite needs Python 3.13 for schemathesis: install it (python3.13 on PATH, or `pyenv install 3.13`) and run npm test again.',
    );
    process.exit(1);
  }
  rmSync(venv, { recursive: true, force: true });
  step(`creating the fuzzer's Python environment (${python} -m venv)`, python, [
    '-m',
    'venv',
    venv,
  ]);
  step('installing the API fuzzer (pip: schemathesis)', path.join(venv, 'bin', 'python'), [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '-r',
    requirements,
  ]);
  writeFileSync(marker, new Date().toISOString());
}

const entries = { start: 'start.js', test: 'test-runner.js', 'check-k8s': 'check-k8s.js' };
const command = process.argv[2];
if (!Object.hasOwn(entries, command)) {
  console.error('usage: node scripts/bootstrap.js start|test|check-k8s [args for jest]');
  process.exit(2);
}
// `npm install --no-save` installs the versions package-lock.json pins without rewriting it.
// Not `npm ci`: npm leaves other platforms' optional packages (@swc/core-*, ...) out of a
// lock file it writes and `npm ci` then refuses that same lock file (npm/cli#4828, #8669).
if (!installIsCurrent()) {
  step('installing dependencies (npm install)', npm, [
    'install',
    '--no-audit',
    '--no-fund',
    '--no-save',
  ]);
}
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
step('building (tsc -b)', process.execPath, [tsc, '-b']);
if (command !== 'start') installPythonTools();
if (command === 'test') installFuzzer();
if (command === 'test') {
  step('type-checking the tests (tsc -p tsconfig.test.json)', process.execPath, [
    tsc,
    '-p',
    'tsconfig.test.json',
  ]);
  step('linting (eslint)', process.execPath, [
    path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'),
    '.',
  ]);
  step('checking formatting (prettier --check)', process.execPath, [
    path.join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'),
    '--check',
    '.',
  ]);
}
const child = spawn(
  process.execPath,
  [path.join(root, 'scripts', 'dist', entries[command]), ...process.argv.slice(3)],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
// Ctrl-C reaches the child from the terminal too; a signal sent to this process alone is
// passed on. Either way this process waits for the child's orderly stop.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
