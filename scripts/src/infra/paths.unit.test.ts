import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ownFolder } from './paths';

describe('a folder of ours in the system temporary folder', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'own-folder-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is kept when it is a real folder of this user that no one else may write to', () => {
    const dir = path.join(root, 'ours');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(path.join(dir, 'kept'), 'x');
    expect(ownFolder(dir)).toBe(true);
    expect(existsSync(path.join(dir, 'kept'))).toBe(true);
  });

  it('is made when missing', () => {
    const dir = path.join(root, 'new');
    expect(ownFolder(dir)).toBe(false);
    expect(lstatSync(dir).isDirectory()).toBe(true);
    expect(lstatSync(dir).mode & 0o777).toBe(0o755);
  });

  it('is made anew when others may write to it, or it is a link, and what was planted there is gone', () => {
    const writable = path.join(root, 'writable');
    mkdirSync(writable);
    chmodSync(writable, 0o777);
    writeFileSync(path.join(writable, 'initdb'), 'planted');
    const target = path.join(root, 'elsewhere');
    mkdirSync(target, { mode: 0o755 });
    const link = path.join(root, 'link');
    symlinkSync(target, link);
    for (const dir of [writable, link]) {
      expect(ownFolder(dir)).toBe(false);
      expect(lstatSync(dir).isDirectory()).toBe(true);
      expect(lstatSync(dir).mode & 0o022).toBe(0);
    }
    expect(existsSync(path.join(writable, 'initdb'))).toBe(false);
    expect(existsSync(target)).toBe(true);
  });

  it('is made anew when another user owns it (checked as root, who can give it away)', () => {
    const dir = path.join(root, 'theirs');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(path.join(dir, 'initdb'), 'planted');
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(dir, 65534, 65534);
    expect(ownFolder(dir)).toBe(!asRoot);
    expect(existsSync(path.join(dir, 'initdb'))).toBe(!asRoot);
  });
});
