import { execFileSync } from 'node:child_process';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** ps's STAT: `Z` is a zombie, an exited process no one has reaped yet. */
  stat: string;
  command: string;
}

/** Every process of this machine, from ps. */
export function processes(): ProcessInfo[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,stat=,comm='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [pid, ppid, stat, ...command] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), stat: stat!, command: command.join(' ') };
    });
}

/**
 * Every process below `root`, however deep (servers in process groups of their own too),
 * parents before their children.
 */
export function descendants(root: number): ProcessInfo[] {
  const all = processes();
  const found: ProcessInfo[] = [];
  let parents = new Set([root]);
  while (parents.size > 0) {
    const children = all.filter((p) => parents.has(p.ppid));
    found.push(...children);
    parents = new Set(children.map((p) => p.pid));
  }
  return found;
}

/** The pids of `pids` still running (a zombie has exited: it only waits to be reaped). */
export function stillRunning(pids: number[]): ProcessInfo[] {
  const wanted = new Set(pids);
  return processes().filter((p) => wanted.has(p.pid) && !p.stat.startsWith('Z'));
}
