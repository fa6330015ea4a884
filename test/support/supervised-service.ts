import { freePort } from '../../scripts/src/infra/ports';
import { spawnServiceProcess, type RunningService } from './services';
import { waitFor } from './wait';

/** A service's process that ended without being asked to, and how. */
export interface UnaskedExit {
  code: number | null;
  signal: string | null;
  /** The last lines it wrote. */
  lastWords: string;
}

function lastWords(output: string): string {
  const lines = output.trim().split('\n');
  const plain = lines.filter((line) => !line.startsWith('{'));
  return (plain.at(-1) ?? lines.at(-1) ?? '').slice(0, 300);
}

/** A service kept running as an orchestrator (or `npm start`) does, on one port throughout. */
export interface SupervisedService {
  url: string;
  /** Exits nobody asked for; each was followed by a restart. */
  unaskedExits: UnaskedExit[];
  /** SIGKILLs the running process and starts it again; resolves once it is ready. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

type ServiceName = Parameters<typeof spawnServiceProcess>[0];

/** How long a service that exited on its own waits before it starts again (npm start: 1 s at first). */
const RESTART_DELAY_MS = 1000;

/**
 * Runs `name` as its own process and starts it again whenever it exits on its own (a
 * projector that cannot go on exits non-zero and relies on that, as in `npm start`); ready
 * (its /readyz answers 2xx) when this resolves.
 */
export async function superviseService(
  name: ServiceName,
  env: Record<string, string>,
  readyTimeoutMs = 90000,
): Promise<SupervisedService> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const unaskedExits: UnaskedExit[] = [];
  /** Processes asked to end: their exit is no reason to start another. */
  const asked = new WeakSet<RunningService>();
  let stopping = false;
  let current: RunningService;

  const launch = (): RunningService => {
    const service = spawnServiceProcess(name, env, port);
    void service.exited.then((code) => {
      if (stopping || asked.has(service)) return;
      unaskedExits.push({
        code,
        signal: service.child.signalCode,
        // Its failure line (start-up failures are one plain line on stderr), else its last log.
        lastWords: lastWords(service.output()),
      });
      const timer = setTimeout(() => {
        if (!stopping && current === service) current = launch();
      }, RESTART_DELAY_MS);
      timer.unref();
    });
    return service;
  };
  const ready = () =>
    waitFor(`${name} on port ${port} to be ready`, async () => (await fetch(`${url}/readyz`)).ok, {
      timeoutMs: readyTimeoutMs,
      intervalMs: 200,
    });

  current = launch();
  await ready();
  return {
    url,
    unaskedExits,
    async kill() {
      const victim = current;
      asked.add(victim);
      victim.child.kill('SIGKILL');
      await victim.exited;
      current = launch();
      await ready();
    },
    async stop() {
      stopping = true;
      asked.add(current);
      await current.stop();
    },
  };
}
