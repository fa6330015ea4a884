import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorCatalogue } from '@catchall/core/domain';
import { createEventEncoder } from './codec';
import { domainEventSchema } from './domain-event';
import { checkRegistryAccess, registerSchema } from './registry';
import { registryConnection } from './registry-access';
import {
  createTestCertificates,
  type TestCertificates,
} from '../../scripts/src/infra/certificates';

/**
 * The registry clients' authentication and TLS against servers on loopback that answer like
 * the registry's Confluent API for the few paths used here and record the Authorization
 * header: not the registry (the integration tests use the real one behind a TLS proxy).
 */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const seen: (string | undefined)[] = [];
let allowed: string | undefined;

const registryLike: Handler = (req, res) => {
  seen.push(req.headers.authorization);
  req.resume();
  if (allowed !== undefined && req.headers.authorization !== allowed) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"error_code":401,"message":"Unauthorized"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
  if (req.url?.startsWith('/schemas/ids/')) {
    res.end(JSON.stringify({ schema: JSON.stringify(domainEventSchema) }));
  } else if (req.url === '/subjects') res.end('[]');
  else if (req.url?.startsWith('/config/')) res.end('{"compatibility":"BACKWARD"}');
  else res.end('{"id":7}');
};

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const settings = {
  SCHEMA_REGISTRY_URL: '',
  SCHEMA_REGISTRY_USERNAME: '',
  SCHEMA_REGISTRY_PASSWORD: '',
  SCHEMA_REGISTRY_TOKEN: '',
  SCHEMA_REGISTRY_CA_FILE: '',
};
const subject = 'access-test-value';

/** Registers the event schema through `access`, then builds an encoder for the id it got. */
async function expectRegistrationAndEncoder(access: ReturnType<typeof registryConnection>) {
  const id = await registerSchema({
    ...access,
    subject,
    schema: domainEventSchema,
    compatibility: 'BACKWARD',
  });
  await expect(createEventEncoder({ ...access, schemaId: id })).resolves.toBeDefined();
}

describe('registry authentication', () => {
  const server = createHttpServer(registryLike);
  let url: string;
  beforeAll(async () => {
    url = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('sends basic authentication from the library client and from registration', async () => {
    const basic = `Basic ${Buffer.from('reg-user:reg-pass').toString('base64')}`;
    allowed = basic;
    const access = registryConnection({
      ...settings,
      SCHEMA_REGISTRY_URL: url,
      SCHEMA_REGISTRY_USERNAME: 'reg-user',
      SCHEMA_REGISTRY_PASSWORD: 'reg-pass',
    });
    await expectRegistrationAndEncoder(access);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((header) => header === basic)).toBe(true);
  });

  it('sends a bearer token from the library client and from registration', async () => {
    allowed = 'Bearer reg-token';
    const access = registryConnection({
      ...settings,
      SCHEMA_REGISTRY_URL: url,
      SCHEMA_REGISTRY_TOKEN: 'reg-token',
    });
    await checkRegistryAccess(access);
    await expect(createEventEncoder({ ...access, schemaId: 7 })).resolves.toBeDefined();
    expect(seen).toEqual(['Bearer reg-token', 'Bearer reg-token']);
  });

  it('stops at start on a 401, naming the registry and the settings, not the secret', async () => {
    allowed = 'Bearer right-token';
    const access = registryConnection({
      ...settings,
      SCHEMA_REGISTRY_URL: url,
      SCHEMA_REGISTRY_TOKEN: 'wrong-token',
    });
    const refusal = checkRegistryAccess(access);
    await expect(refusal).rejects.toMatchObject({
      code: errorCatalogue.accessRefused.code,
      retriable: false,
    });
    await expect(refusal).rejects.toThrow(
      /schema registry at http:\/\/127\.0\.0\.1:\d+ refused access \(401\); check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD, or SCHEMA_REGISTRY_TOKEN/,
    );
    await expect(refusal).rejects.not.toThrow(/wrong-token/);
    await expect(createEventEncoder({ ...access, schemaId: 7 })).rejects.toMatchObject({
      code: errorCatalogue.accessRefused.code,
    });
  });

  it('lets a registry that does not answer pass the start check', async () => {
    const closed = createHttpServer();
    const port = await listen(closed);
    closed.close();
    await expect(
      checkRegistryAccess({ registryUrl: `http://127.0.0.1:${port}` }),
    ).resolves.toBeUndefined();
  });
});

describe('an https registry', () => {
  let dir: string;
  let certificates: TestCertificates;
  let server: Server;
  let url: string;
  beforeAll(async () => {
    allowed = undefined;
    dir = mkdtempSync(path.join(tmpdir(), 'catchall-registry-tls-'));
    certificates = await createTestCertificates(dir);
    server = createHttpsServer(
      {
        key: readFileSync(certificates.serverKeyFile),
        cert: readFileSync(certificates.serverCertFile),
      },
      registryLike,
    );
    url = `https://127.0.0.1:${await listen(server)}`;
  });
  afterAll(() => {
    (server as ReturnType<typeof createHttpsServer>).closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is trusted through SCHEMA_REGISTRY_CA_FILE, by the library client and registration', async () => {
    const access = registryConnection({
      ...settings,
      SCHEMA_REGISTRY_URL: url,
      SCHEMA_REGISTRY_CA_FILE: certificates.caFile,
    });
    await checkRegistryAccess(access);
    await expectRegistrationAndEncoder(access);
  });

  it('is refused at start without the CA, naming the TLS failure and SCHEMA_REGISTRY_CA_FILE', async () => {
    const refusal = checkRegistryAccess({ registryUrl: url });
    await expect(refusal).rejects.toMatchObject({ code: errorCatalogue.accessRefused.code });
    await expect(refusal).rejects.toThrow(
      /TLS handshake failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE.*SCHEMA_REGISTRY_CA_FILE/,
    );
  });
});

describe('a URL that does not answer as a registry', () => {
  let status = 400;
  let body = '<html><head><title>400 The plain HTTP request was sent to HTTPS port</title>';
  const server = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end(body);
  });
  let url: string;
  beforeAll(async () => {
    url = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(() => server.close());

  it.each([
    [400, '<html>400 The plain HTTP request was sent to HTTPS port</html>'],
    [404, '<html>Not Found</html>'],
    [200, '<html>a web site, not a registry</html>'],
  ])(
    'is refused at start when it answers %d with a page, naming SCHEMA_REGISTRY_URL',
    async (s, b) => {
      status = s;
      body = b;
      const refusal = checkRegistryAccess({ registryUrl: url });
      await expect(refusal).rejects.toMatchObject({ code: errorCatalogue.accessRefused.code });
      await expect(refusal).rejects.toThrow(
        new RegExp(
          `does not answer as a Confluent-compatible registry \\(GET /subjects: ${s}\\).*SCHEMA_REGISTRY_URL`,
        ),
      );
    },
  );

  it('is waited for when it answers 503 (a proxy before a registry still starting)', async () => {
    status = 503;
    body = '<html>Service Unavailable</html>';
    await expect(checkRegistryAccess({ registryUrl: url })).resolves.toBeUndefined();
  });
});
