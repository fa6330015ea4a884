import Ajv, { type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { isEventTime } from '../domain/event-time';
import { CONSISTENCY_TOKEN_FORMAT, CURSOR_FORMAT, DOMAIN_FORMAT } from './route-fields';

/**
 * An Ajv that takes values as they are: no type coercion (`1e400` is not a string, `["a"]`
 * is not `"a"`), unknown fields kept so that `additionalProperties: false` refuses them,
 * and `date-time` read by the same function that turns an event time into milliseconds, so
 * that every time the schema accepts encodes.
 */
export function createAjv(options: Options = {}): Ajv {
  const ajv = new Ajv({
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: true,
    ...options,
  });
  addFormats(ajv);
  ajv.addFormat('date-time', { type: 'string', validate: isEventTime });
  // Known, not checked here (Ajv's `true`): the routes check them with their own answers.
  ajv.addFormat(DOMAIN_FORMAT, true);
  ajv.addFormat(CURSOR_FORMAT, true);
  ajv.addFormat(CONSISTENCY_TOKEN_FORMAT, true);
  return ajv;
}

/** An integer as text: optional minus, no leading zero, no exponent, within 2^53. */
const INTEGER_TEXT = /^-?(?:0|[1-9][0-9]{0,14})$/;

interface PropertySchema {
  type?: string;
}

/**
 * Query strings, path parameters and headers arrive as text. Only properties the schema
 * declares as integers are read as numbers, and only from plain decimal digits: `Infinity`,
 * `1e3`, `0x10`, ` 5` or `5.0` stay text and fail the schema, where Ajv's coercion would
 * have taken them.
 */
function numericProperties(schema: unknown): string[] {
  const properties = (schema as { properties?: Record<string, PropertySchema> }).properties ?? {};
  return Object.entries(properties)
    .filter(([, p]) => p.type === 'integer')
    .map(([name]) => name);
}

/**
 * The validator compiler of every service: bodies are checked without coercion; text
 * parts of the request have their integer properties read strictly first.
 */
export function strictValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const ajv = createAjv();
  return ({ schema, httpPart }) => {
    const validate: ValidateFunction = ajv.compile(schema as object);
    if (httpPart === 'body') return validate as ReturnType<FastifySchemaCompiler<FastifySchema>>;
    const integers = numericProperties(schema);
    const check = (data: unknown) => {
      if (integers.length > 0 && data !== null && typeof data === 'object') {
        const values = data as Record<string, unknown>;
        for (const name of integers) {
          const value = values[name];
          if (typeof value === 'string' && INTEGER_TEXT.test(value)) values[name] = Number(value);
        }
      }
      const ok = validate(data);
      check.errors = validate.errors;
      return ok;
    };
    check.errors = null as ValidateFunction['errors'];
    return check;
  };
}
