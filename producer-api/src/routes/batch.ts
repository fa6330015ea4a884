import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  bearerSecurity,
  createAjv,
  decodeBody,
  DomainField,
  errorResponses,
  errors,
  schemaRefusal,
  type CatchallError,
} from '@catchall/core';
import type { DomainEvent } from '@catchall/schemas';
import {
  answerConsistencyToken,
  consistencyTokenHeader,
  ConsistencyTokenField,
} from './consistency-token';
import { Accepted, buildEvent, EventTimeField, SourceField, type EventRouteDeps } from './events';

/** One event of a batch; the same fields as the single-event routes. */
export const BatchItem = Type.Object(
  {
    domain: DomainField,
    type: Type.Union([Type.Literal('delivered'), Type.Literal('bounced')]),
    eventId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        pattern: '^[\\x21-\\x7e]+$',
        description:
          'the event id (printable ASCII), an idempotency key: tries of one event with the same id and domain are counted once within DEDUPE_WINDOW_S, over batches and PUT alike; a random id is made when absent',
      }),
    ),
    occurredAt: Type.Optional(EventTimeField),
    source: Type.Optional(SourceField),
  },
  { additionalProperties: false },
);
type BatchItem = Static<typeof BatchItem>;

const BatchAccepted = Type.Object(
  {
    accepted: Type.Integer(),
    events: Type.Optional(
      Type.Array(Accepted, {
        description: 'each event in the order sent; left out with `Prefer: return=minimal`',
      }),
    ),
    // With return=minimal too: it is one entry per partition, not one per event.
    consistencyToken: ConsistencyTokenField,
  },
  consistencyTokenHeader,
);

const BatchHeaders = Type.Object({
  prefer: Type.Optional(
    Type.String({
      description:
        '`return=minimal` (RFC 7240): answer with the count only, not each event (for bulk clients that send their own event ids)',
    }),
  ),
});

/** True when a Prefer header (RFC 7240) asks for return=minimal. */
export function prefersMinimal(prefer: string | string[] | undefined): boolean {
  if (prefer === undefined) return false;
  const values = Array.isArray(prefer) ? prefer : [prefer];
  return values.some((value) =>
    value.split(',').some((preference) => {
      const [name, token] = preference.split(';')[0]!.split('=');
      return (
        name?.trim().toLowerCase() === 'return' &&
        token
          ?.trim()
          .replace(/^"(.*)"$/, '$1')
          .toLowerCase() === 'minimal'
      );
    }),
  );
}

export const NDJSON = 'application/x-ndjson';

/** One refused event of a batch: its index, the catalogue code of what is wrong, the message. */
interface ItemError {
  index: number;
  code: string;
  message: string;
}

const itemError = (index: number, err: CatchallError): ItemError => ({
  index,
  code: err.code,
  message: err.message,
});

/** A line of NDJSON that is not JSON stays in its place, so its index can be reported. */
class UnparsableLine {
  constructor(readonly message: string) {}
}

/**
 * NDJSON: one JSON value per line, blank lines skipped. The body is decoded as the JSON
 * parser does (strict UTF-8, a leading byte-order mark dropped), so both forms of a batch
 * take the same bytes.
 */
function parseNdjson(body: Buffer): unknown[] {
  return decodeBody(body)
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch (err) {
        return new UnparsableLine(`line is not JSON: ${(err as Error).message}`);
      }
    });
}

const ajv = createAjv({ allErrors: true });
const check = ajv.compile<BatchItem>(BatchItem);

function validateAll(
  items: unknown[],
  now: number,
): { events: DomainEvent[]; problems: ItemError[] } {
  const events: DomainEvent[] = [];
  const problems: ItemError[] = [];
  items.forEach((item, index) => {
    if (item instanceof UnparsableLine) {
      problems.push(itemError(index, errors.invalidBody(item.message)));
    } else if (!check(item)) {
      const found = check.errors ?? [];
      const message = ajv.errorsText(found, { dataVar: 'event' });
      problems.push(itemError(index, schemaRefusal(found, item, message)));
    } else {
      try {
        events.push(buildEvent(item, now));
      } catch (err) {
        // buildEvent throws the catalogue's errors only; anything else is a fault, not a refusal.
        if (!String((err as CatchallError).code).startsWith('CATCHALL_')) throw err;
        problems.push(itemError(index, err as CatchallError));
      }
    }
  });
  return { events, problems };
}

/**
 * POST /events: many events at once, as a JSON array or NDJSON. Validation is all or
 * nothing: one bad event refuses the batch, and the answer lists every bad one by index.
 */
export function registerBatchRoute(
  app: FastifyInstance,
  deps: EventRouteDeps & { maxEvents: number; maxBytes: number },
): void {
  app.addContentTypeParser(
    NDJSON,
    { parseAs: 'buffer', bodyLimit: deps.maxBytes },
    (_req, body, done) => {
      try {
        done(null, parseNdjson(body as Buffer));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  app.post<{ Body: unknown[] }>(
    '/events',
    {
      bodyLimit: deps.maxBytes,
      schema: {
        summary: 'Record many delivery outcomes at once (JSON array or NDJSON)',
        description: `At most ${deps.maxEvents} events and ${deps.maxBytes} bytes (413 beyond). All or nothing: any invalid event refuses the whole batch with 400 and lists each bad one by index. The answer lists each event (its id, normalized domain and type) unless \`Prefer: return=minimal\` asks for the count only.`,
        headers: BatchHeaders,
        // Both media types take the same events: a JSON array, or NDJSON with one per line.
        consumes: ['application/json', NDJSON],
        body: Type.Array(BatchItem, {
          maxItems: deps.maxEvents,
          description: `the events: a JSON array (application/json), or one JSON object per line (${NDJSON}, blank lines skipped)`,
        }),
        response: { 202: BatchAccepted, ...errorResponses(deps.errorStatuses) },
        ...bearerSecurity(deps.authenticated),
      },
      // Items are checked one by one below, so that every bad one is reported by index.
      validatorCompiler: () => (data: unknown) => ({ value: data }),
    },
    async (request, reply) => {
      const items = request.body;
      if (!Array.isArray(items)) {
        throw errors.invalidBody('the body must be a JSON array of events, or NDJSON lines');
      }
      if (items.length > deps.maxEvents) throw errors.batchTooLarge(deps.maxEvents);
      const { events, problems } = validateAll(items, Date.now());
      if (problems.length > 0) {
        const err: CatchallError & { errors?: ItemError[] } = errors.invalidBatch(problems.length);
        err.errors = problems;
        throw err;
      }
      const encoder = deps.schema.encoder();
      // One trace context for the request's records: they share its span (tracing on).
      const headers = deps.tracing.recordHeaders(request);
      // Keys stay strings: the (patched) partitioner and record encoder read ASCII directly.
      const offsets = await deps.publisher.publish(
        events.map((e) => ({ key: e.domain, value: encoder.encode(e), headers })),
        deps.consistencyTokens,
      );
      // One metric update per type, not per event.
      const perType = new Map<string, number>();
      for (const e of events) perType.set(e.type, (perType.get(e.type) ?? 0) + 1);
      for (const [type, n] of perType) deps.metrics.eventsAccepted.inc({ type }, n);
      void reply.code(202);
      const consistencyToken = answerConsistencyToken(reply, deps.topic, offsets);
      if (prefersMinimal(request.headers.prefer)) {
        void reply.header('preference-applied', 'return=minimal');
        return { accepted: events.length, consistencyToken };
      }
      return {
        accepted: events.length,
        events: events.map((e) => ({ eventId: e.eventId, domain: e.domain, type: e.type })),
        consistencyToken,
      };
    },
  );
}
