import type { ErrorObject } from 'ajv';
import { errors, type CatchallError } from './errors';

/** The value at a JSON Pointer (RFC 6901, as Ajv's `instancePath`) in `root`. */
function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  for (const token of pointer.split('/').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined;
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    value = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

/**
 * What a value breaks, without the scaffolding of unions: the `anyOf`/`oneOf` summary, and a
 * branch's `type` error where another branch's error lies deeper or at the same place (the
 * branch that did match the type, such as the object beside `null` in an optional body,
 * says what is wrong).
 */
const isUnion = (e: ErrorObject) => e.keyword === 'anyOf' || e.keyword === 'oneOf';

function substantive(found: ErrorObject[]): ErrorObject[] {
  return found.filter((e) => {
    if (isUnion(e)) return false;
    if (e.keyword !== 'type') return true;
    return !found.some(
      (o) =>
        o.instancePath.startsWith(`${e.instancePath}/`) ||
        (o.instancePath === e.instancePath && o.keyword !== 'type' && !isUnion(o)),
    );
  });
}

const isBadDateTime = (e: ErrorObject) =>
  e.keyword === 'format' && (e.params as { format?: unknown }).format === 'date-time';

/**
 * The catalogue's answer to a value a route schema refused, from Ajv's errors and the value
 * checked (`data`): 400 CATCHALL_INVALID_EVENT_TIME, naming the field and what was sent, when
 * all that is wrong is a string that is not an RFC 3339 date-time (section 5.6); naming each
 * field the schema does not know (as `<context><pointer>/<name>`) when that is all that is
 * wrong; otherwise 400 CATCHALL_INVALID_REQUEST with `message` (the field and the rule it
 * breaks).
 */
export function schemaRefusal(
  found: ErrorObject[],
  data: unknown,
  message: string,
  /** What was checked, as fastify's validationContext names it (`body`, `querystring`...). */
  context = 'the value',
): CatchallError {
  const wrong = substantive(found);
  if (wrong.length > 0 && wrong.every(isBadDateTime)) {
    const pointer = wrong[0]!.instancePath;
    const field = pointer === '' ? 'value' : pointer.slice(pointer.lastIndexOf('/') + 1);
    return errors.invalidEventTime(field, String(valueAt(data, pointer)));
  }
  if (wrong.length > 0 && wrong.every(isUnknownField)) {
    // Ajv's own words ("must NOT have additional properties") never say which.
    const names = [...new Set(wrong.map((e) => `${context}${e.instancePath}/${unknownName(e)}`))];
    return errors.invalidRequest(
      `${names.map((n) => JSON.stringify(n)).join(', ')}: not a field this route takes`,
    );
  }
  return errors.invalidRequest(message);
}

const isUnknownField = (e: ErrorObject) => e.keyword === 'additionalProperties';

const unknownName = (e: ErrorObject) =>
  String((e.params as { additionalProperty?: unknown }).additionalProperty);
