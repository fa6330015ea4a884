import type { ManagedProcess } from '../../scripts/src/infra/managed-process';
import { descendants } from './processes';

/** Sends `signal` to `pid` (negative: a process group); one already gone is what we wanted. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
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
  const children = descendants(server.pid).map((p) => p.pid);
  for (const child of children) signal(child, 'SIGSTOP');
  let frozen = true;
  return () => {
    if (!frozen) return;
    frozen = false;
    for (const child of children) signal(child, 'SIGCONT');
    signal(-server.pid, 'SIGCONT');
  };
}
