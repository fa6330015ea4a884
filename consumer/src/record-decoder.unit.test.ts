import { MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS } from '@catchall/core';
import { SchemaIdNotYetKnown } from '@catchall/schemas';
import { jsonDecoder, jsonRecord } from '../../test/support/in-memory-ports';
import { classify, decodeRecord } from './record-decoder';

const event = {
  eventId: 'e',
  domain: 'Example.COM.',
  occurredAt: 1700000000000,
  source: null,
  eventIdOrigin: 'ingest' as const,
};

describe('the record decoder', () => {
  it('counts an event under its normalized domain', () => {
    expect(classify({ ...event, type: 'delivered' })).toEqual({
      kind: 'event',
      domain: 'example.com',
      event: { type: 'delivered', occurredAt: 1700000000000 },
    });
  });

  it('keeps the id the client chose, to deduplicate on; not one the ingest API made or none', () => {
    const client = { ...event, eventIdOrigin: 'client' as const, type: 'bounced' as const };
    expect(classify(client)).toEqual({
      kind: 'event',
      domain: 'example.com',
      event: { type: 'bounced', occurredAt: 1700000000000 },
      eventId: 'e',
    });
    expect(classify({ ...client, eventId: '' })).not.toHaveProperty('eventId');
    expect(classify({ ...client, eventIdOrigin: 'ingest' })).not.toHaveProperty('eventId');
  });

  it('ignores the enum default (a symbol the reader does not know)', () => {
    expect(classify({ ...event, type: 'unknown' })).toEqual({ kind: 'ignored' });
  });

  it.each([
    [
      'an invalid domain',
      { ...event, type: 'delivered', domain: 'not a domain!' },
      'invalid-domain',
    ],
    [
      'an all-numeric top label',
      { ...event, type: 'bounced', domain: '1.2.3.4' },
      'invalid-domain',
    ],
    [
      'a time before year 0000',
      { ...event, type: 'delivered', occurredAt: MIN_EVENT_TIME_MS - 1 },
      'time-out-of-range',
    ],
    [
      'a time after year 9999',
      { ...event, type: 'delivered', occurredAt: MAX_EVENT_TIME_MS + 1 },
      'time-out-of-range',
    ],
  ] as const)('dead-letters %s with its reason', (_, value, reason) => {
    expect(classify(value)).toMatchObject({ kind: 'dead', reason });
  });

  it('dead-letters a value that can never be decoded, without a promise', () => {
    expect(decodeRecord(jsonDecoder, jsonRecord(0, Buffer.from('not json')))).toMatchObject({
      kind: 'dead',
      reason: 'not-wire-format',
    });
  });

  it('throws a failure that may pass (an unknown schema id, the registry down), so that the partition retries', async () => {
    const lagging = {
      decodeKnown: () => undefined,
      decode: () =>
        Promise.reject(new SchemaIdNotYetKnown('schema id 9 is not in the registry (yet)')),
    };
    await expect(
      decodeRecord(lagging, jsonRecord(0, { domain: 'a.example' })),
    ).rejects.toBeInstanceOf(SchemaIdNotYetKnown);
  });
});
