import { ConfigError, failureLine } from '@catchall/core';
import { VersionError } from './read-model-version';
import { NotInTopic, UsageError } from './usage-error';

/** How a run of the dlq tools that failed ends: what it writes on stderr, and its exit code. */
export interface DlqFailure {
  /** `<code>: <message>` (failureLine), and the usage after it for a malformed command line. */
  stderr: string;
  exitCode: 1 | 2;
}

/**
 * The end of a failed run (README, "Dead-letter tools", exit codes): 2 for what running again
 * unchanged cannot mend, a wrong command line (UsageError: the usage follows the message), a
 * well-formed one naming what the topic does not hold (NotInTopic: the message alone, naming
 * what it holds), a configuration variable missing or wrong (ConfigError, TopicMissing among
 * them) or a read model version that cannot take the operation (VersionError); 1 for any
 * other failure (Kafka, the registry, Postgres, a read model schema behind).
 */
export function dlqFailure(err: unknown, usage: string): DlqFailure {
  const line = failureLine(err);
  if (err instanceof UsageError && !(err instanceof NotInTopic)) {
    return { stderr: `${line}\n\n${usage}`, exitCode: 2 };
  }
  const lasting =
    err instanceof UsageError || err instanceof ConfigError || err instanceof VersionError;
  return { stderr: line, exitCode: lasting ? 2 : 1 };
}
