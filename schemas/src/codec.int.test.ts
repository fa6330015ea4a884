import net from 'node:net';
import { testInfra, uniqueName } from '../../test/support/env';
import { newerWriterSchema } from '../../test/support/events';
import { createEventDecoder, createEventEncoder, DecodeError, SchemaIdNotYetKnown } from './index';
import { domainEventSchema, valueSubject, type DomainEvent } from './domain-event';
import { lookupSchema, registerSchema, RegistryError } from './registry';

const { registryUrl } = testInfra();

function subject(): string {
  return valueSubject(uniqueName('codec'));
}

const event: DomainEvent = {
  eventId: 'e-1',
  domain: 'example.com',
  type: 'delivered',
  occurredAt: 1_700_000_000_000,
  source: null,
  eventIdOrigin: 'client',
};

/** Registers the current contract under a subject; returns its schema id. */
function registerContract(s: string): Promise<number> {
  return registerSchema({
    registryUrl,
    subject: s,
    schema: domainEventSchema,
    compatibility: 'BACKWARD',
  });
}

/** Registers the current contract, then the newer writer's schema, under a fresh subject. */
async function newerWriterEncoder() {
  const s = subject();
  await registerContract(s);
  const newerId = await registerSchema({
    registryUrl,
    subject: s,
    schema: newerWriterSchema(),
    compatibility: 'BACKWARD',
  });
  return createEventEncoder({ registryUrl, schemaId: newerId });
}

describe('the event schema in the real schema registry', () => {
  it('registers under the subject and gets the same id when registered again', async () => {
    const s = subject();
    const id = await registerContract(s);
    const again = await registerContract(s);
    expect(again).toBe(id);
    expect(await lookupSchema({ registryUrl, subject: s, schema: domainEventSchema })).toBe(id);
  });

  it('sets the subject compatibility level to BACKWARD', async () => {
    const s = subject();
    await registerContract(s);
    const response = await fetch(`${registryUrl}/config/${s}`);
    expect(await response.json()).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  it('refuses an incompatible schema under the same subject', async () => {
    const s = subject();
    await registerContract(s);
    const incompatible = {
      ...domainEventSchema,
      fields: [...(domainEventSchema.fields as object[]), { name: 'required', type: 'string' }],
    };
    await expect(
      registerSchema({ registryUrl, subject: s, schema: incompatible, compatibility: 'BACKWARD' }),
    ).rejects.toMatchObject({ code: 'CATCHALL_SCHEMA_REJECTED', retriable: false });
  });

  it('says the schema is not registered when looking it up under an empty subject', async () => {
    await expect(
      lookupSchema({ registryUrl, subject: subject(), schema: domainEventSchema }),
    ).rejects.toBeInstanceOf(RegistryError);
  });

  it('encodes in the Confluent wire format and decodes back', async () => {
    const id = await registerContract(subject());
    const encoder = await createEventEncoder({ registryUrl, schemaId: id });
    const bytes = encoder.encode({ ...event, source: 'mta-7' });
    expect(bytes.readUInt8(0)).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(id);
    await expect(createEventDecoder({ registryUrl }).decode(bytes)).resolves.toEqual({
      ...event,
      source: 'mta-7',
    });
  });

  it('reads a newer writer schema: the added optional field is dropped', async () => {
    const encoder = await newerWriterEncoder();
    const bytes = encoder.encode({ ...event, mailbox: 'info' } as DomainEvent);
    await expect(createEventDecoder({ registryUrl }).decode(bytes)).resolves.toEqual(event);
  });

  it('reads an enum symbol it does not know as the default, unknown', async () => {
    const encoder = await newerWriterEncoder();
    const bytes = encoder.encode({ ...event, type: 'deferred' } as unknown as DomainEvent);
    const decoded = await createEventDecoder({ registryUrl }).decode(bytes);
    expect(decoded.type).toBe('unknown');
    expect(decoded.domain).toBe('example.com');
  });

  it('refuses values that are not in the wire format, and unknown schema ids, for good', async () => {
    const decoder = createEventDecoder({ registryUrl, unknownSchemaRetryMs: 0 });
    await expect(decoder.decode(Buffer.from('{"domain":"x"}'))).rejects.toMatchObject({
      reason: 'not-wire-format',
    });
    await expect(decoder.decode(null)).rejects.toBeInstanceOf(DecodeError);
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xfe, 1, 2]);
    await expect(decoder.decode(unknownId)).rejects.toMatchObject({ reason: 'unknown-schema-id' });
  });

  it('retries an unknown schema id for the window it is given, then refuses it', async () => {
    let now = 1000000;
    const decoder = createEventDecoder({ registryUrl, unknownSchemaRetryMs: 5000, now: () => now });
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xfd, 1, 2]);
    await expect(decoder.decode(unknownId)).rejects.toMatchObject({
      retriable: true,
      code: 'CATCHALL_SCHEMA_ID_UNKNOWN',
    });
    now += 4999;
    await expect(decoder.decode(unknownId)).rejects.toBeInstanceOf(SchemaIdNotYetKnown);
    now += 1;
    await expect(decoder.decode(unknownId)).rejects.toMatchObject({ reason: 'unknown-schema-id' });
    // Another unknown id right after: the registry was just waited on, given up at once.
    const otherId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xfc, 1, 2]);
    await expect(decoder.decode(otherId)).rejects.toMatchObject({ reason: 'unknown-schema-id' });
    // Once the window has passed since, a new unknown id is waited on again.
    now += 5000;
    const thirdId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xfb, 1, 2]);
    await expect(decoder.decode(thirdId)).rejects.toBeInstanceOf(SchemaIdNotYetKnown);
  });

  it('refuses a body that does not match its schema', async () => {
    const id = await registerContract(subject());
    const header = Buffer.from([0, 0, 0, 0, 0]);
    header.writeInt32BE(id, 1);
    await expect(
      createEventDecoder({ registryUrl }).decode(
        Buffer.concat([header, Buffer.from([0xff, 0xff])]),
      ),
    ).rejects.toMatchObject({ reason: 'undecodable' });
  });

  it('refuses every record of a schema id that is not Avro (a JSON Schema), as undecodable', async () => {
    const s = subject();
    const response = await fetch(`${registryUrl}/subjects/${s}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({
        schemaType: 'JSON',
        schema: JSON.stringify({
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
        }),
      }),
    });
    expect(response.status).toBe(200);
    const { id } = (await response.json()) as { id: number };
    const value = Buffer.from([0, 0, 0, 0, 0, 0x7b, 0x7d]);
    value.writeInt32BE(id, 1);
    await expect(createEventDecoder({ registryUrl }).decode(value)).rejects.toMatchObject({
      reason: 'undecodable',
      message: expect.stringMatching(/not an Avro schema/),
    });
  });

  it("refuses every record of a writer schema avsc cannot parse (a name outside Avro's rule), asking the registry once", async () => {
    const s = subject();
    await registerContract(s);
    // The registry accepts a non-ASCII field name; the Avro specification's names do not.
    const schema = newerWriterSchema() as { fields: { name: string }[] };
    schema.fields[schema.fields.length - 1]!.name = 'quelleÉvénement';
    const id = await registerSchema({ registryUrl, subject: s, schema, compatibility: 'BACKWARD' });
    const value = Buffer.from([0, 0, 0, 0, 0, 0]);
    value.writeInt32BE(id, 1);
    const decoder = createEventDecoder({ registryUrl });
    await expect(decoder.decode(value)).rejects.toMatchObject({
      reason: 'undecodable',
      message: expect.stringMatching(/cannot be parsed/),
    });
    // Kept: the next record of the id fails at once, without a lookup.
    expect(() => decoder.decodeKnown(value)).toThrow(/cannot be parsed/);
  });

  it('reports a registry that accepts connections but never answers as retriable, within seconds', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const decoder = createEventDecoder({
        registryUrl: `http://127.0.0.1:${port}/apis/ccompat/v7`,
      });
      await expect(decoder.decode(Buffer.from([0, 0, 0, 0, 1, 0]))).rejects.toMatchObject({
        retriable: true,
        message: expect.stringMatching(/no answer within/),
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('reports an unreachable registry as retriable', async () => {
    const decoder = createEventDecoder({ registryUrl: 'http://127.0.0.1:9/apis/ccompat/v7' });
    await expect(decoder.decode(Buffer.from([0, 0, 0, 0, 1, 0]))).rejects.toMatchObject({
      retriable: true,
    });
  });
});
