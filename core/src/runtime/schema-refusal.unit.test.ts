import { Type } from '@sinclair/typebox';
import { schemaRefusal } from './schema-refusal';
import { createAjv } from './validation';

const Body = Type.Union([
  Type.Null(),
  Type.Object(
    { at: Type.Optional(Type.String({ format: 'date-time' })), n: Type.Optional(Type.String()) },
    { additionalProperties: false },
  ),
]);

function refusalOf(data: unknown, allErrors = false) {
  const ajv = createAjv({ allErrors });
  const validate = ajv.compile(Body);
  expect(validate(data)).toBe(false);
  return schemaRefusal(validate.errors ?? [], data, ajv.errorsText(validate.errors));
}

describe('schemaRefusal: the catalogue answer to a value a route schema refused', () => {
  it('is CATCHALL_INVALID_EVENT_TIME naming the field and value when only a date-time is wrong', () => {
    for (const allErrors of [false, true]) {
      const err = refusalOf({ at: '2023-02-29T00:00:00Z', n: 'x' }, allErrors);
      expect(err.code).toBe('CATCHALL_INVALID_EVENT_TIME');
      expect(err.statusCode).toBe(400);
      expect(err.message).toMatch(/^Invalid at "2023-02-29T00:00:00Z": send an RFC 3339/);
    }
  });

  it('names every field the schema does not know, when that is all that is wrong', () => {
    for (const allErrors of [false, true]) {
      const ajv = createAjv({ allErrors });
      const validate = ajv.compile(Body);
      expect(validate({ eventId: 'x', n: 'y' })).toBe(false);
      const err = schemaRefusal(validate.errors ?? [], {}, ajv.errorsText(validate.errors), 'body');
      expect(err.code).toBe('CATCHALL_INVALID_REQUEST');
      expect(err.message).toBe('Invalid request: "body/eventId": not a field this route takes');
    }
    const both = refusalOf({ eventId: 'x', color: 'red', at: 'soon' }, true);
    expect(both.message).not.toMatch(/not a field this route takes/);
  });

  it('is CATCHALL_INVALID_REQUEST for a wrong type, an unknown field, or a time beside them', () => {
    for (const data of [{ at: 0 }, { x: 1 }, 'text']) {
      expect(refusalOf(data).code).toBe('CATCHALL_INVALID_REQUEST');
    }
    expect(refusalOf({ at: 'soon', n: 1 }, true).code).toBe('CATCHALL_INVALID_REQUEST');
    expect(refusalOf({ at: 'soon', n: 1 }, true).message).toMatch(/^Invalid request: /);
  });
});
