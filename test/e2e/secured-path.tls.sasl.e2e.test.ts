import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  postgresTlsUrlFor,
  securedInfra,
  testInfra,
  uniqueName,
  type SecuredTestInfra,
} from '../support/env';
import { spawnAllServices, spawnServiceProcess, type RunningService } from '../support/services';
import { freePort } from '../../scripts/src/infra/ports';
import { waitFor } from '../support/wait';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

/** A secret of this run only, so that finding it in a log can only be a leak. */
const secretValue = (name: string) => `${name}-${randomBytes(12).toString('hex')}`;

/**
 * The whole path over secured connections, each program given its secrets as files (as
 * Kubernetes mounts Secrets): Kafka over SASL_SSL with SCRAM-SHA-512 and the test CA, the
 * registry over https through an authenticating proxy, Postgres with sslmode=verify-full as a
 * role of its own, and bearer tokens on both APIs, the ingest API's and the query API's
 * apart. Every program's output is kept and searched for the secrets at the end.
 */
describe('the whole path over TLS and SASL, secrets from files', () => {
  let secured: SecuredTestInfra;
  let admin: pg.Pool;
  let database: string;
  let dir: string;
  let role: string;
  let env: Record<string, string>;
  let services: RunningService[] = [];
  /** Everything every program of this file printed. */
  const outputs: string[] = [];
  const secrets = {
    rolePassword: secretValue('pg-password'),
    ingestToken: secretValue('ingest-token'),
    queryToken: secretValue('query-token'),
    wrongKafkaPassword: secretValue('wrong-kafka-password'),
    wrongRegistryPassword: secretValue('wrong-registry-password'),
    wrongPostgresPassword: secretValue('wrong-pg-password'),
  };

  const file = (name: string, content: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, `${content}\n`, { mode: 0o600 });
    return p;
  };

  /** Runs one of the projector package's command-line programs to its end. */
  async function runCli(script: string, args: string[], extra: Record<string, string> = {}) {
    const child = run(process.execPath, [path.join(ROOT, 'consumer', 'dist', script), ...args], {
      env: { ...process.env, ...env, ...extra },
      timeout: 120000,
    });
    try {
      const { stdout, stderr } = await child;
      outputs.push(stdout, stderr);
      return { code: 0, output: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      outputs.push(e.stdout ?? '', e.stderr ?? '');
      return { code: e.code ?? -1, output: (e.stdout ?? '') + (e.stderr ?? '') };
    }
  }

  /** A service started with `changes`, which must stop by itself: its exit code and output. */
  async function failedStart(
    name: 'producer-api' | 'consumer' | 'query-api',
    changes: Record<string, string>,
  ) {
    const service = spawnServiceProcess(name, { ...env, ...changes }, await freePort());
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), 60000);
    });
    const code = await Promise.race([service.exited, hung]);
    clearTimeout(timer);
    if (code === 'hung') await service.stop();
    outputs.push(service.output());
    return { code, output: service.output() };
  }

  beforeAll(async () => {
    secured = securedInfra();
    dir = mkdtempSync(path.join(os.tmpdir(), 'catchall-secured-'));
    // A role and a database of its own, empty: setup migrates it as that role, over TLS.
    role = uniqueName('catchall_role').replace(/-/g, '_');
    database = role.replace('catchall_role', 'catchall_secured');
    admin = new pg.Pool({ connectionString: testInfra().postgresAdminUrl, max: 2 });
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${secrets.rolePassword}'`);
    await admin.query(`CREATE DATABASE ${database} OWNER ${role}`);
    const roleUrl = new URL(postgresTlsUrlFor(database));
    roleUrl.username = role;
    roleUrl.password = secrets.rolePassword;
    env = {
      LOG_LEVEL: 'trace',
      KAFKA_BROKERS: secured.saslSslBrokers,
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: secured.users.scram.username,
      KAFKA_SASL_PASSWORD_FILE: file('kafka-password', secured.users.scram.password),
      KAFKA_SSL_CA_FILE: secured.caFile,
      SCHEMA_REGISTRY_URL: secured.registryUrl,
      SCHEMA_REGISTRY_USERNAME: secured.registryUser,
      SCHEMA_REGISTRY_PASSWORD_FILE: file('registry-password', secured.registryPassword),
      SCHEMA_REGISTRY_CA_FILE: secured.caFile,
      DATABASE_URL_FILE: file('database-url', roleUrl.toString()),
      API_TOKENS_FILE: file('api-tokens', secrets.ingestToken),
      QUERY_API_TOKENS_FILE: file('query-api-tokens', secrets.queryToken),
      EVENTS_TOPIC: uniqueName('secured-events'),
      EVENTS_TOPIC_PARTITIONS: '3',
      CONSUMER_GROUP: uniqueName('secured-projector'),
    };
    // Setup migrates the read model over TLS and creates the topic over SASL_SSL.
    const setup = await runCli('setup-cli.js', []);
    if (setup.code !== 0) throw new Error(`setup failed (${setup.code}): ${setup.output}`);
    services = await spawnAllServices(env);
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  const ingest = () => services[0]!;
  const query = () => services[2]!;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('counts an event put with the ingest token and reads it with the query token', async () => {
    const put = await fetch(`${ingest().url}/events/secured.example/delivered`, {
      method: 'PUT',
      headers: bearer(secrets.ingestToken),
    });
    expect(put.status).toBe(202);
    const batch = await fetch(`${ingest().url}/events`, {
      method: 'POST',
      headers: { ...bearer(secrets.ingestToken), 'content-type': 'application/json' },
      body: JSON.stringify([
        { domain: 'secured.example', type: 'delivered' },
        { domain: 'bounced.secured.example', type: 'bounced' },
      ]),
    });
    expect(batch.status).toBe(202);
    const answer = await waitFor('the events to be counted over the secured path', async () => {
      const response = await fetch(`${query().url}/domains/secured.example`, {
        headers: bearer(secrets.queryToken),
      });
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as { delivered: number };
      return body.delivered === 2 ? body : undefined;
    });
    expect(answer).toMatchObject({ domain: 'secured.example', delivered: 2, bounced: 0 });
    expect(
      (await fetch(`${query().url}/domains/bounced.secured.example`, {
        headers: bearer(secrets.queryToken),
      }).then((r) => r.json())) as unknown,
    ).toMatchObject({ bounced: 1, status: 'not catch-all' });
  });

  it('counts the events of a Python confluent-kafka producer over SASL_SSL and the https registry', async () => {
    const { stdout } = await run(
      'python3',
      [
        path.join(ROOT, 'test', 'conformance', 'secured_producer.py'),
        secured.saslSslBrokers,
        secured.registryUrl,
        env.EVENTS_TOPIC!,
        path.join(ROOT, 'schemas', 'domain-event.avsc'),
        secured.caFile,
        'python.secured.example',
        '5',
      ],
      {
        env: {
          ...process.env,
          PYTHONPATH: path.join(ROOT, '.local', 'python'),
          KAFKA_SASL_USERNAME: secured.users.scram.username,
          KAFKA_SASL_PASSWORD: secured.users.scram.password,
          SCHEMA_REGISTRY_USERNAME: secured.registryUser,
          SCHEMA_REGISTRY_PASSWORD: secured.registryPassword,
        },
        timeout: 120000,
      },
    );
    expect(stdout).toContain('5 events acknowledged over SASL_SSL');
    const answer = await waitFor('the Python events to be counted', async () => {
      const response = await fetch(`${query().url}/domains/python.secured.example`, {
        headers: bearer(secrets.queryToken),
      });
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as { delivered: number };
      return body.delivered === 5 ? body : undefined;
    });
    expect(answer).toMatchObject({ delivered: 5, bounced: 0 });
  });

  it('keeps the two token lists apart: a token that may publish may not read', async () => {
    const read = (headers: Record<string, string>) =>
      fetch(`${query().url}/domains/secured.example`, { headers });
    for (const headers of [{}, bearer(secrets.ingestToken)]) {
      const response = await read(headers);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 'CATCHALL_UNAUTHORIZED' });
    }
    const publish = await fetch(`${ingest().url}/events/secured.example/delivered`, {
      method: 'PUT',
      headers: bearer(secrets.queryToken),
    });
    expect(publish.status).toBe(401);
    expect(await publish.json()).toMatchObject({ code: 'CATCHALL_UNAUTHORIZED' });
  });

  it('connects to Postgres over TLS only, as its own role', async () => {
    const { rows } = await admin.query<{ ssl: boolean; n: string }>(
      `SELECT s.ssl, count(*) AS n FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid
       WHERE a.usename = $1 GROUP BY s.ssl`,
      [role],
    );
    expect(rows.map((r) => r.ssl)).toEqual([true]);
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);
  });

  it('rebuilds the read model with replay over the same secured connections', async () => {
    const result = await runCli('replay-cli.js', ['rebuild', '--switch-lag', '0']);
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/is live/);
    const answer = await fetch(`${query().url}/domains/secured.example`, {
      headers: bearer(secrets.queryToken),
    }).then((r) => r.json());
    expect(answer).toMatchObject({ delivered: 2 });
  });

  it.each([
    [
      'a wrong Kafka password',
      'producer-api' as const,
      () => ({ KAFKA_SASL_PASSWORD_FILE: file('wrong-kafka', secrets.wrongKafkaPassword) }),
      /Kafka refused the SASL authentication/,
    ],
    [
      'an expired OAUTHBEARER token',
      'producer-api' as const,
      () => {
        const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const expired = Math.floor(Date.now() / 1000) - 3600;
        const token = `${part({ alg: 'none' })}.${part({ sub: 'oauth-user', iat: expired - 60, exp: expired })}.`;
        return {
          KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
          KAFKA_SASL_USERNAME: '',
          KAFKA_SASL_PASSWORD_FILE: '',
          KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: file('expired-token', token),
        };
      },
      /Kafka refused the SASL authentication/,
    ],
    [
      'a Kafka CA that did not sign the brokers',
      'consumer' as const,
      () => ({ KAFKA_SSL_CA_FILE: secured.untrustedCaFile }),
      /Kafka TLS handshake failed/,
    ],
    [
      'SSL without SASL against the SASL_SSL listener',
      'producer-api' as const,
      () => ({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SASL_MECHANISM: '' }),
      /Kafka closed the connection at once.*KAFKA_SECURITY_PROTOCOL/,
    ],
    [
      'PLAINTEXT against the SASL_SSL listener',
      'consumer' as const,
      () => ({
        KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT',
        KAFKA_SASL_MECHANISM: '',
        KAFKA_SSL_CA_FILE: '',
      }),
      /Kafka closed the connection at once.*KAFKA_SECURITY_PROTOCOL/,
    ],
    [
      'SASL_SSL against a PLAINTEXT listener',
      'producer-api' as const,
      () => ({ KAFKA_BROKERS: testInfra().brokers }),
      /Kafka closed the connection at once.*KAFKA_SECURITY_PROTOCOL/,
    ],
    [
      'a wrong Postgres password',
      'query-api' as const,
      () => {
        const url = new URL(postgresTlsUrlFor(database));
        url.username = role;
        url.password = secrets.wrongPostgresPassword;
        return { DATABASE_URL_FILE: file('wrong-database-url', url.toString()) };
      },
      /Postgres refused/,
    ],
    [
      'a wrong registry password',
      'producer-api' as const,
      () => ({
        SCHEMA_REGISTRY_PASSWORD_FILE: file('wrong-registry', secrets.wrongRegistryPassword),
      }),
      /schema registry at https:\S+ refused access \(401\); check SCHEMA_REGISTRY_USERNAME/,
    ],
    [
      'an http registry URL to the https port',
      'producer-api' as const,
      () => ({
        SCHEMA_REGISTRY_URL: secured.registryUrl.replace('https:', 'http:'),
        SCHEMA_REGISTRY_CA_FILE: '',
      }),
      /does not answer as a Confluent-compatible registry \(GET \/subjects: 400\).*SCHEMA_REGISTRY_URL/,
    ],
    [
      'a registry CA that did not sign its certificate',
      'consumer' as const,
      () => ({ SCHEMA_REGISTRY_CA_FILE: secured.untrustedCaFile }),
      /schema registry at https:\S+: TLS handshake failed.*SCHEMA_REGISTRY_CA_FILE/,
    ],
    [
      'a Postgres CA that did not sign its certificate',
      'query-api' as const,
      () => {
        const url = new URL(postgresTlsUrlFor(database));
        url.username = role;
        url.password = secrets.rolePassword;
        url.searchParams.set('sslrootcert', secured.untrustedCaFile);
        return { DATABASE_URL_FILE: file('untrusted-database-url', url.toString()) };
      },
      /Postgres/,
    ],
  ])('refuses to start with %s, saying why (no hang)', async (_, name, changes, reason) => {
    const { code, output } = await failedStart(name, changes());
    expect(code).not.toBe('hung');
    expect(code).not.toBe(0);
    expect(output).toContain('CATCHALL_ACCESS_REFUSED');
    expect(output).toMatch(reason);
  });

  it("never shows a secret, in any program's output at trace level or its /metrics", async () => {
    for (const service of services) {
      const metrics = await fetch(`${service.url}/metrics`);
      expect(metrics.status).toBe(200);
      outputs.push(await metrics.text());
    }
    const codes = await Promise.all(services.map((s) => s.stop()));
    expect(codes).toEqual([0, 0, 0]);
    const all = [...outputs, ...services.map((s) => s.output())].join('\n');
    expect(all.length).toBeGreaterThan(10000);
    const leaked = Object.entries({
      ...secrets,
      kafkaPassword: secured.users.scram.password,
      registryPassword: secured.registryPassword,
    }).filter(([, value]) => all.includes(value));
    expect(leaked.map(([name]) => name)).toEqual([]);
  });
});
