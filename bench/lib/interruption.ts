/** The signal that interrupted this benchmark (see withStack), once one did. */
let interruptedBy: NodeJS.Signals | undefined;

/** Records that `signal` interrupted the benchmark; the first one stays. */
export function markInterrupted(signal: NodeJS.Signals): void {
  interruptedBy ??= signal;
}

/** The signal that interrupted the benchmark, or undefined: a run that was not interrupted. */
export function interruption(): NodeJS.Signals | undefined {
  return interruptedBy;
}
