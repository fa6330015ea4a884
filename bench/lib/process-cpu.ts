import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The parts of the system a benchmark's process tree holds, as CPU is accounted to them. */
export type Part = 'ingest API' | 'projector' | 'Kafka' | 'registry' | 'Postgres' | 'load';

let ticksPerSecond: number | undefined;
/** The last CPU seconds read per process: a process that exited keeps its last figure. */
const lastSeen = new Map<number, { part: Part; seconds: number }>();

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    // A process that exited since its parent's list was read: its time is gone with it.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** User and system CPU seconds a process used so far (/proc/<pid>/stat); undefined once gone. */
export function processCpuSeconds(pid: number): number | undefined {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** The processes `pid` started (/proc/<pid>/task/<pid>/children). */
export function childrenOf(pid: number): number[] {
  const children = read(`/proc/${pid}/task/${pid}/children`)?.trim();
  return children ? children.split(/\s+/).map(Number) : [];
}

/** Every process below `pid`, however deep, parents before their children (/proc: Linux; else none). */
export function descendantsOf(pid: number): number[] {
  if (process.platform !== 'linux') return [];
  const found: number[] = [];
  for (let parents = [pid]; parents.length > 0;) {
    parents = parents.flatMap(childrenOf);
    found.push(...parents);
  }
  return found;
}

/** Which part a process is, from its command line (`postgres: ...` for Postgres backends). */
function partOf(pid: number, root: number): Part | undefined {
  if (pid === root) return 'load';
  const argv = read(`/proc/${pid}/cmdline`)?.split('\0') ?? [];
  const line = argv.join(' ');
  if (argv[0]?.startsWith('postgres') || /\/postgres( |$)/.test(argv[0] ?? '')) return 'Postgres';
  if (line.includes('kafka.Kafka')) return 'Kafka';
  if (/\bjava\b/.test(argv[0] ?? '')) return 'registry';
  if (line.includes('producer-api')) return 'ingest API';
  if (line.includes('consumer')) return 'projector';
  return undefined;
}

/**
 * User and system CPU seconds per part of the system, over this process and all its
 * descendants (the stack's Kafka, registry and Postgres, the services it started), read
 * from /proc (Linux only; elsewhere every figure is NaN). A process that exited counts
 * with what it had used at the last call that saw it: call this often enough (each phase of
 * a benchmark) that the sums stay close and never go back.
 */
export function cpuByPart(): Record<Part, number> {
  const seconds: Record<Part, number> = {
    'ingest API': 0,
    projector: 0,
    Kafka: 0,
    registry: 0,
    Postgres: 0,
    load: 0,
  };
  if (process.platform !== 'linux') {
    for (const part of Object.keys(seconds) as Part[]) seconds[part] = NaN;
    return seconds;
  }
  const root = process.pid;
  const walk = (pid: number, inherited: Part | undefined) => {
    const part = partOf(pid, root) ?? inherited;
    const seconds = part ? processCpuSeconds(pid) : undefined;
    if (part && seconds !== undefined) lastSeen.set(pid, { part, seconds });
    // A service's workers and a server's backends are the part of their parent.
    for (const child of childrenOf(pid)) walk(child, part === 'load' ? undefined : part);
  };
  walk(root, undefined);
  for (const { part, seconds: used } of lastSeen.values()) seconds[part] += used;
  return seconds;
}

/**
 * The machine's busy and total CPU time since boot, in ticks (/proc/stat's first line), and
 * the ticks in a second.
 */
export function machineTicks(): { busy: number; total: number; ticksPerSecond: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  // idle and iowait
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  return { busy: total - idle, total, ticksPerSecond };
}
