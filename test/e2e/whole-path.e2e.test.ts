import { projectorEnv } from '../support/env';
import { createTestTopic, type TestTopic } from '../support/kafka';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { spawnAllServices, type RunningService } from '../support/services';
import { waitFor } from '../support/wait';

describe('the whole path: HTTP in, through Kafka and the projector, HTTP out', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let services: RunningService[] = [];

  beforeAll(async () => {
    topic = await createTestTopic(3);
    db = await createTestDatabase();
    const env = projectorEnv(topic.name, db.url);
    services = await spawnAllServices(env);
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await db.drop();
    await topic.delete();
  });

  it('counts an event put for Example.COM. under example.com, queryable within seconds', async () => {
    const [producer, , query] = services;
    const put = await fetch(`${producer!.url}/events/Example.COM./delivered`, { method: 'PUT' });
    expect(put.status).toBe(202);
    expect(await put.json()).toMatchObject({ domain: 'example.com', type: 'delivered' });

    const answer = await waitFor('example.com to be counted', async () => {
      const response = await fetch(`${query!.url}/domains/example.com`);
      return response.status === 200 ? response.json() : undefined;
    });
    expect(answer).toMatchObject({
      domain: 'example.com',
      status: 'unknown',
      delivered: 1,
      bounced: 0,
    });
  });

  it('turns a domain into not catch-all after a bounce', async () => {
    const [producer, , query] = services;
    await fetch(`${producer!.url}/events/bounce.example/delivered`, { method: 'PUT' });
    await fetch(`${producer!.url}/events/bounce.example/bounced`, { method: 'PUT' });
    const answer = await waitFor('both events', async () => {
      const response = await fetch(`${query!.url}/domains/bounce.example`);
      const body = (await response.json()) as {
        delivered: number;
        bounced: number;
        status: string;
      };
      return body.delivered === 1 && body.bounced === 1 ? body : undefined;
    });
    expect(answer.status).toBe('not catch-all');
  });

  it('stops every service cleanly on SIGTERM (exit code 0)', async () => {
    const codes = await Promise.all(services.map((s) => s.stop()));
    expect(codes).toEqual([0, 0, 0]);
  });
});
