import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import avro from 'avsc';
import { createEventDecoder } from './codec';
import { domainEventSchema } from './domain-event';
import { createWireEncoder } from './wire-format';

/**
 * The registry side of the decoder against an HTTP server on loopback that answers
 * `GET /schemas/ids/7` as told: not the schema registry (the integration tests use the real
 * one), but what can stand in front of it (a proxy's page, an empty body).
 */
describe('the registry lookup of the decoder', () => {
  let answer: { contentType: string; body: string } | 'hang' = {
    contentType: 'text/html',
    body: '',
  };
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      if (answer === 'hang') return;
      res.writeHead(200, { 'content-type': answer.contentType });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const schemaAnswer = () => ({
    contentType: 'application/vnd.schemaregistry.v1+json',
    body: JSON.stringify({ schema: JSON.stringify(domainEventSchema) }),
  });
  const eventValue = (id: number) =>
    createWireEncoder(avro.Type.forSchema(domainEventSchema as avro.Schema), id).encode({
      eventId: 'e-1',
      domain: 'example.com',
      type: 'delivered',
      occurredAt: 1_700_000_000_000,
      source: null,
    });

  it('given a lookup the registry never answers, when it times out, then the id is asked again on a new request, not on the one that hangs', async () => {
    const decoder = createEventDecoder({ registryUrl: url, lookupTimeoutMs: 200 });
    answer = 'hang';
    await expect(decoder.decode(eventValue(8))).rejects.toMatchObject({
      code: 'CATCHALL_REGISTRY_UNAVAILABLE',
      retriable: true,
    });
    answer = schemaAnswer();
    expect(await decoder.decode(eventValue(8))).toMatchObject({ eventId: 'e-1' });
  });

  it('given an answer that holds no schema, then the lookup fails retriably and is asked again, and the records are read once a schema comes', async () => {
    const decoder = createEventDecoder({ registryUrl: url });
    const value = eventValue(7);
    for (const odd of [
      { contentType: 'text/html', body: '<html>502 Bad Gateway</html>' },
      { contentType: 'application/vnd.schemaregistry.v1+json', body: '' },
    ]) {
      answer = odd;
      await expect(decoder.decode(value)).rejects.toMatchObject({
        code: 'CATCHALL_REGISTRY_UNAVAILABLE',
        retriable: true,
      });
    }
    answer = schemaAnswer();
    expect(await decoder.decode(value)).toMatchObject({ eventId: 'e-1', domain: 'example.com' });
  });
});
