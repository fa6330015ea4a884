import { setFlagsFromString } from 'node:v8';

/** The largest value setHeapGrowingPercent takes: the old generation grows to 11× at most. */
export const MAX_HEAP_GROWING_PERCENT = 1000;

/**
 * Fixes how far V8 lets the old generation grow past what the last full garbage collection
 * kept before it collects again: from `live` MB the heap may reach
 * `live × (1 + percent / 100)` MB (V8's `--heap-growing-percent`).
 *
 * Left alone, V8 picks the factor itself, up to 4× when collecting is cheap next to the
 * program's own work. For a process that allocates fast and keeps little, such as the
 * projector (about 35 MB live while it folds at full speed), that lets the heap reach 140 to
 * 170 MB of which most is garbage, and the process's resident memory with it. V8 reads the
 * flag each time it sets the next limit, so setting it once at start acts as the
 * command-line flag does (shown by the projector's `--trace-gc` output and by the unit test).
 *
 * @param percent 0 leaves V8's own choice; 1 to MAX_HEAP_GROWING_PERCENT fixes the factor
 *   (100: twice the live size).
 * @throws RangeError for a value that is not an integer in 0..MAX_HEAP_GROWING_PERCENT.
 */
export function setHeapGrowingPercent(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > MAX_HEAP_GROWING_PERCENT) {
    throw new RangeError(
      `heap growing percent must be an integer from 0 to ${MAX_HEAP_GROWING_PERCENT}, got ${percent}`,
    );
  }
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
