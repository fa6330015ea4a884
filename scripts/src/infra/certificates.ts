import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files of a test run's certificates; every key is an unencrypted PKCS#8 key. */
export interface TestCertificates {
  /** The CA every secured part trusts and every client is given. */
  caFile: string;
  /** The servers' certificate (SAN: DNS localhost, IP 127.0.0.1), signed by the CA. */
  serverCertFile: string;
  serverKeyFile: string;
  /** The server key followed by its certificate: Kafka's PEM key store (KIP-651). */
  serverKeyStoreFile: string;
  /** A client certificate for mutual TLS (CN catchall-client), signed by the CA. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A second CA that nothing trusts: clients given it must refuse the servers. */
  untrustedCaFile: string;
  /** A client certificate signed by the untrusted CA: servers must refuse it. */
  untrustedClientCertFile: string;
  untrustedClientKeyFile: string;
}

/**
 * The extensions of each kind of certificate. A config of our own, so that the system's
 * openssl.cnf (whose defaults would make every `req -x509` certificate a CA) plays no part.
 */
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** Valid for two days: a test run is short, and clocks may be a little apart. */
const DAYS = '2';

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

/** A P-256 key: quick to make, and every client here (Node, Java, libpq) accepts it. */
async function newKey(file: string): Promise<void> {
  await openssl([
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    file,
  ]);
}

interface Issued {
  cert: string;
  key: string;
}

/**
 * A certificate with a fresh key: self-signed when `issuer` is absent (a CA), else signed
 * by it; `extensions` names a section of OPENSSL_CONFIG.
 */
async function issue(
  dir: string,
  config: string,
  name: string,
  subject: string,
  extensions: 'ca' | 'server' | 'client',
  issuer?: Issued,
): Promise<Issued> {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  await newKey(key);
  chmodSync(key, 0o600);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-config',
    config,
    '-extensions',
    extensions,
    '-key',
    key,
    '-subj',
    subject,
    '-days',
    DAYS,
    '-sha256',
    '-out',
    cert,
    ...(issuer ? ['-CA', issuer.cert, '-CAkey', issuer.key] : []),
  ]);
  return { cert, key };
}

/**
 * Makes the run's CA, server and client certificates, and a second, untrusted CA with a
 * client certificate of its own, into `dir` (made if missing) with the `openssl` command.
 * Keys are written 0600; a server that runs as another user gets its own copy.
 */
export async function createTestCertificates(dir: string): Promise<TestCertificates> {
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'openssl.cnf');
  writeFileSync(config, OPENSSL_CONFIG);
  const [ca, untrustedCa] = await Promise.all([
    issue(dir, config, 'ca', '/CN=Catch-all test CA', 'ca'),
    issue(dir, config, 'untrusted-ca', '/CN=Catch-all untrusted test CA', 'ca'),
  ]);
  const [server, client, untrustedClient] = await Promise.all([
    issue(dir, config, 'server', '/CN=localhost', 'server', ca),
    issue(dir, config, 'client', '/CN=catchall-client', 'client', ca),
    issue(dir, config, 'untrusted-client', '/CN=catchall-client', 'client', untrustedCa),
  ]);
  const serverKeyStoreFile = path.join(dir, 'server-keystore.pem');
  writeFileSync(
    serverKeyStoreFile,
    readFileSync(server.key, 'utf8') + readFileSync(server.cert, 'utf8'),
    {
      mode: 0o600,
    },
  );
  return {
    caFile: ca.cert,
    serverCertFile: server.cert,
    serverKeyFile: server.key,
    serverKeyStoreFile,
    clientCertFile: client.cert,
    clientKeyFile: client.key,
    untrustedCaFile: untrustedCa.cert,
    untrustedClientCertFile: untrustedClient.cert,
    untrustedClientKeyFile: untrustedClient.key,
  };
}
