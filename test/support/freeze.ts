import type { ManagedProcess } from '../../scripts/src/infra/managed-process';

/**
 * Freezes a managed server (SIGSTOP to its process group): it keeps its sockets open and
 * answers nothing, as a hung JVM or a paused VM does. Returns what thaws it (SIGCONT);
 * thawing twice is harmless. Call it in a `finally`, so that nothing stays frozen.
 */
export function freeze(server: ManagedProcess): () => void {
  process.kill(-server.pid, 'SIGSTOP');
  let frozen = true;
  return () => {
    if (!frozen) return;
    frozen = false;
    process.kill(-server.pid, 'SIGCONT');
  };
}
