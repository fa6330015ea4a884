import createError, { type FastifyError } from '@fastify/error';
import { errorCatalogue, type ErrorCode, type HttpErrorName } from '../domain/error-catalogue';

export interface CatchallError extends FastifyError {
  code: ErrorCode;
  statusCode: number;
  /** True when the same request may succeed later; retry and dead-letter logic read this. */
  retriable: boolean;
}

type Constructor = (...args: unknown[]) => CatchallError;

function defineError(name: HttpErrorName): Constructor {
  const { code, statusCode, message, retriable } = errorCatalogue[name];
  const Ctor = createError(code, message, statusCode);
  return (...args: unknown[]) => Object.assign(new Ctor(...args), { retriable });
}

const httpNames = (Object.keys(errorCatalogue) as (keyof typeof errorCatalogue)[]).filter(
  (name): name is HttpErrorName => 'statusCode' in errorCatalogue[name],
);

/**
 * The constructors of every error the APIs answer with, one per catalogue entry that has an
 * HTTP status (`core/src/domain/error-catalogue.ts`): `errors.invalidDomain(domain, reason)`
 * gives a fastify error with the entry's code, status, message (`%s`, `%d` filled by the
 * arguments, in order) and `retriable`.
 */
export const errors = Object.fromEntries(
  httpNames.map((name) => [name, defineError(name)]),
) as Record<HttpErrorName, Constructor>;
