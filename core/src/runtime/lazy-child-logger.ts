import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

/** A pino log call's arguments: an object or message, then a message and its arguments. */
type LogArguments = [obj: unknown, msg?: string, ...args: unknown[]];

/**
 * A request's logger that makes the real pino child (`parent.child(bindings, options)`) only
 * when the request logs: fastify makes one per request, and a pino child serializes its
 * bindings (the request id) and applies redaction at once, several microseconds each, while
 * at the level this serves (`warn`, no request logging) nearly no request logs anything.
 * Lines are the same as the eager child's: the child is made from the same bindings on the
 * first call, and every later call goes to it.
 */
class LazyChildLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.#child?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  fatal(...args: LogArguments): void {
    this.real().fatal(...args);
  }

  error(...args: LogArguments): void {
    this.real().error(...args);
  }

  warn(...args: LogArguments): void {
    this.real().warn(...args);
  }

  info(...args: LogArguments): void {
    this.real().info(...args);
  }

  debug(...args: LogArguments): void {
    this.real().debug(...args);
  }

  trace(...args: LogArguments): void {
    this.real().trace(...args);
  }

  silent(...args: LogArguments): void {
    this.real().silent(...args);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }
}

/**
 * fastify's `childLoggerFactory` making LazyChildLogger: a request's logger costs one small
 * object until the request logs.
 */
export function lazyChildLoggerFactory(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options);
}
