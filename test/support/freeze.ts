import { readdirSync, readFileSync } from 'node:fs';
import type { ManagedProcess } from '../../scripts/src/infra/managed-process';

/** Sends `signal` to `pid` (negative: a process group); one already gone is what we wanted. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * The processes descended from `pid`, parents before their children, from Linux's /proc (the
 * parent is the field after the state, after the command's closing parenthesis).
 */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // It ended while the list was read.
    }
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const visit = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

/**
 * Freezes a managed server (SIGSTOP): it keeps its sockets open and answers nothing, as a hung
 * JVM or a paused VM does. Its process group is stopped first, so that it starts no process
 * more, then every process descended from it: Postgres's backends each lead a session of
 * their own (the postmaster makes them so that it can signal their groups), and a stopped
 * postmaster alone leaves them answering on their connections. Returns what thaws it
 * (SIGCONT to the same processes, the server last); thawing twice is harmless. Call it in a
 * `finally`, so that nothing stays frozen.
 */
export function freeze(server: ManagedProcess): () => void {
  signal(-server.pid, 'SIGSTOP');
  const children = descendants(server.pid);
  for (const child of children) signal(child, 'SIGSTOP');
  let frozen = true;
  return () => {
    if (!frozen) return;
    frozen = false;
    for (const child of children) signal(child, 'SIGCONT');
    signal(-server.pid, 'SIGCONT');
  };
}
