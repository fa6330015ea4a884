import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import pino, { type Logger } from 'pino';
import pinoPretty, { prettyFactory } from 'pino-pretty';

const COLORS = [36, 35, 33, 32, 34];
const PRETTY = { ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l' };

/** The start script's own logger, as readable as the services' lines. */
export function terminalLogger(level: string): Logger {
  return pino(
    { name: 'start', level },
    pinoPretty({ ...PRETTY, colorize: process.stdout.isTTY === true, sync: true }),
  );
}

/**
 * Prints a child's pino JSON lines readably, each prefixed with the service's name, so that
 * all services can share one terminal. Lines that are not JSON are printed as they are.
 */
export function pipeServiceLogs(name: string, index: number, stream: Readable): void {
  const tty = process.stdout.isTTY === true;
  const pretty = prettyFactory({
    colorize: tty,
    ignore: 'pid,hostname,name',
    translateTime: 'HH:MM:ss.l',
  });
  const label = tty
    ? `\x1b[${COLORS[index % COLORS.length]}m${name.padEnd(12)}\x1b[0m`
    : name.padEnd(12);
  createInterface({ input: stream }).on('line', (line) => {
    const text = line.startsWith('{') ? pretty(line).trimEnd() : line;
    process.stdout.write(`${label} | ${text}\n`);
  });
}
