import { readFileSync } from 'node:fs';
import https from 'node:https';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import pg from 'pg';
import { securedInfra, uniqueName } from '../../../test/support/env';
import { createTestTopic, type TestTopic } from '../../../test/support/kafka';

/**
 * The secured parts `npm test` starts, proven with plain clients (kafkajs, pg, https):
 * each way in works with the right credentials and is refused with wrong ones.
 */
const secured = securedInfra();
const pem = (file: string) => readFileSync(file, 'utf8');
const ca = pem(secured.caFile);
const clientCert = { cert: pem(secured.clientCertFile), key: pem(secured.clientKeyFile) };

/**
 * A client of the secured listeners. `refusals`: no retries, so that a refused connection
 * fails at once with its first error; round trips keep kafkajs's retries, since a fresh
 * broker answers the first group join only once its offsets topic exists.
 */
function client(
  brokers: string,
  options: Pick<KafkaConfig, 'ssl' | 'sasl'>,
  refusals = false,
): Kafka {
  return new Kafka({
    brokers: [brokers],
    clientId: 'catchall-secured-infra-test',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    ...(refusals ? { retry: { retries: 0 } } : {}),
    ...options,
  });
}

/** Produces `value` to `topic` and reads the topic's first record back, through `kafka`. */
async function roundTrip(kafka: Kafka, topic: string, value: string): Promise<string> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ value }] });
  } finally {
    await producer.disconnect();
  }
  const consumer = kafka.consumer({ groupId: uniqueName('secured-group') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<string>((resolve, reject) => {
      // A crash kafkajs restarts from (a coordinator still loading) is not a failure.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) reject(payload.error);
      });
      consumer
        .run({
          eachMessage: async ({ message }) => {
            resolve(message.value?.toString() ?? '');
            await Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

/** Connects an admin client: `connected`, or the error's class and message. */
async function connectOutcome(kafka: Kafka): Promise<string> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return 'connected';
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  } finally {
    await admin.disconnect();
  }
}

const sasl: Record<string, SASLOptions> = {
  PLAIN: { mechanism: 'plain', ...secured.users.plain },
  'SCRAM-SHA-256': { mechanism: 'scram-sha-256', ...secured.users.scram },
  'SCRAM-SHA-512': { mechanism: 'scram-sha-512', ...secured.users.scram },
  OAUTHBEARER: {
    mechanism: 'oauthbearer',
    oauthBearerProvider: () => Promise.resolve({ value: pem(secured.oauthTokenFile).trim() }),
  },
};

describe('Kafka over SASL_SSL and mutual TLS', () => {
  let topic: TestTopic;
  beforeEach(async () => {
    topic = await createTestTopic(1);
  });
  afterEach(async () => {
    await topic.delete();
  });

  it.each(Object.keys(sasl))(
    'given SASL_SSL with %s, a record produced is consumed back',
    async (mechanism) => {
      const kafka = client(secured.saslSslBrokers, { ssl: { ca }, sasl: sasl[mechanism] });
      const value = uniqueName(`over-${mechanism}`);
      await expect(roundTrip(kafka, topic.name, value)).resolves.toBe(value);
    },
  );

  it('given mutual TLS with the client certificate, a record produced is consumed back', async () => {
    const kafka = client(secured.sslBrokers, { ssl: { ca, ...clientCert } });
    const value = uniqueName('over-mutual-tls');
    await expect(roundTrip(kafka, topic.name, value)).resolves.toBe(value);
  });
});

describe('Kafka refuses what it must', () => {
  it.each([
    ['PLAIN', { mechanism: 'plain', ...secured.users.plain, password: 'wrong' }],
    ['SCRAM-SHA-256', { mechanism: 'scram-sha-256', ...secured.users.scram, password: 'wrong' }],
    ['SCRAM-SHA-512', { mechanism: 'scram-sha-512', ...secured.users.scram, password: 'wrong' }],
  ] as [string, SASLOptions][])('refuses a wrong %s password', async (_, options) => {
    const kafka = client(secured.saslSslBrokers, { ssl: { ca }, sasl: options }, true);
    await expect(connectOutcome(kafka)).resolves.toMatch(/^KafkaJSSASLAuthenticationError: /);
  });

  it('refuses an expired OAUTHBEARER token', async () => {
    const claims = { sub: 'oauth-user', iat: 1_000_000_000, exp: 1_000_003_600 };
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const expired = `${part({ alg: 'none' })}.${part(claims)}.`;
    const kafka = client(
      secured.saslSslBrokers,
      {
        ssl: { ca },
        sasl: {
          mechanism: 'oauthbearer',
          oauthBearerProvider: () => Promise.resolve({ value: expired }),
        },
      },
      true,
    );
    // The broker answers a bad token with an `invalid_token` challenge and drops the
    // connection; kafkajs reports a lost broker there, not an authentication error.
    await expect(connectOutcome(kafka)).resolves.toMatch(/^KafkaJS\w+: /);
  });

  it('refuses mutual TLS without a client certificate', async () => {
    const kafka = client(secured.sslBrokers, { ssl: { ca } }, true);
    await expect(connectOutcome(kafka)).resolves.toMatch(/certificate required/);
  });

  it('refuses a client certificate signed by the untrusted CA', async () => {
    const kafka = client(
      secured.sslBrokers,
      {
        ssl: {
          ca,
          cert: pem(secured.untrustedClientCertFile),
          key: pem(secured.untrustedClientKeyFile),
        },
      },
      true,
    );
    await expect(connectOutcome(kafka)).resolves.toMatch(/alert certificate unknown/);
  });

  it.each([
    ['SASL_SSL', secured.saslSslBrokers],
    ['mutual TLS', secured.sslBrokers],
  ])('a client trusting only the untrusted CA refuses the %s listener', async (_, brokers) => {
    const kafka = client(
      brokers,
      {
        ssl: { ca: pem(secured.untrustedCaFile), ...clientCert },
        sasl: brokers === secured.saslSslBrokers ? sasl.PLAIN : undefined,
      },
      true,
    );
    await expect(connectOutcome(kafka)).resolves.toMatch(/unable to verify the first certificate/);
  });
});

describe('Postgres over TLS', () => {
  it('connects with verify-full and the session is encrypted', async () => {
    const db = new pg.Client({ connectionString: secured.postgresTlsAdminUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      expect(rows).toEqual([{ ssl: true }]);
    } finally {
      await db.end();
    }
  });

  it('refuses the server when the root certificate is the untrusted CA', async () => {
    const url = new URL(secured.postgresTlsAdminUrl!);
    url.searchParams.set('sslrootcert', secured.untrustedCaFile);
    const db = new pg.Client({ connectionString: url.toString() });
    await expect(db.connect()).rejects.toThrow(/certificate/);
    // The client never connected: ending it resolves at once.
    await db.end();
  });
});

/** Status and body of a GET through the proxy, verifying its certificate against `caPem`. */
function get(
  url: string,
  headers: Record<string, string>,
  caPem = ca,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: caPem, headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('the schema registry behind its TLS proxy', () => {
  const subjects = `${secured.registryUrl}/subjects`;
  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('is https with the same path as the plain registry URL', () => {
    expect(secured.registryUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
  });

  it('answers 401 without credentials', async () => {
    await expect(get(subjects, {})).resolves.toMatchObject({ status: 401 });
  });

  it('answers 401 with a wrong password or a wrong token', async () => {
    const wrongPassword = { authorization: basic(secured.registryUser, 'wrong') };
    const wrongToken = { authorization: 'Bearer wrong' };
    await expect(get(subjects, wrongPassword)).resolves.toMatchObject({ status: 401 });
    await expect(get(subjects, wrongToken)).resolves.toMatchObject({ status: 401 });
  });

  it('serves the registry with basic auth', async () => {
    const headers = { authorization: basic(secured.registryUser, secured.registryPassword) };
    const response = await get(subjects, headers);
    expect(response.status).toBe(200);
    expect(Array.isArray(JSON.parse(response.body))).toBe(true);
  });

  it('serves the registry with the bearer token', async () => {
    const response = await get(subjects, { authorization: `Bearer ${secured.registryToken}` });
    expect(response.status).toBe(200);
    expect(Array.isArray(JSON.parse(response.body))).toBe(true);
  });

  it('is refused by a client trusting only the untrusted CA', async () => {
    const headers = { authorization: `Bearer ${secured.registryToken}` };
    await expect(get(subjects, headers, pem(secured.untrustedCaFile))).rejects.toThrow(
      /certificate/,
    );
  });
});
