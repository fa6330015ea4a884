import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs';
import { kafkaConnectionFields, loadConfig } from './config';
import { kafkaConnection } from './kafka';
import { kafkaAccessProblem } from './kafka-access';
import { createTestCertificates } from '../../../scripts/src/infra/certificates';

let CA: string;
let CERT: string;
/** The client key, encrypted with the passphrase `key-pass`. */
let KEY: string;

describe('kafkaConnection', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'catchall-kafka-'));
    const certificates = await createTestCertificates(path.join(dir, 'certificates'));
    CA = readFileSync(certificates.caFile, 'utf8');
    CERT = readFileSync(certificates.clientCertFile, 'utf8');
    KEY = createPrivateKey(readFileSync(certificates.clientKeyFile))
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'key-pass' })
      .toString();
    writeFileSync(file('ca.pem'), CA);
    writeFileSync(file('cert.pem'), CERT);
    writeFileSync(file('key.pem'), KEY);
    writeFileSync(file('token'), 'first.jwt.token\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const connection = (env: Record<string, string>) =>
    kafkaConnection(
      loadConfig(kafkaConnectionFields, { KAFKA_BROKERS: 'b1:9093,b2:9093', ...env }),
    );

  it('gives neither ssl nor sasl for PLAINTEXT', () => {
    expect(connection({})).toEqual({ brokers: 'b1:9093,b2:9093' });
  });

  it('verifies the brokers with Node default CAs for SSL without a CA file', () => {
    expect(connection({ KAFKA_SECURITY_PROTOCOL: 'SSL' })).toEqual({
      brokers: 'b1:9093,b2:9093',
      ssl: { rejectUnauthorized: true },
    });
  });

  it('gives the CA, the client certificate, its key and passphrase for mutual TLS', () => {
    const { ssl, sasl } = connection({
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CA_FILE: file('ca.pem'),
      KAFKA_SSL_CERT_FILE: file('cert.pem'),
      KAFKA_SSL_KEY_FILE: file('key.pem'),
      KAFKA_SSL_KEY_PASSWORD: 'key-pass',
    });
    expect(ssl).toEqual({
      rejectUnauthorized: true,
      ca: CA,
      cert: CERT,
      key: KEY,
      passphrase: 'key-pass',
    });
    expect(sasl).toBeUndefined();
  });

  it.each([
    ['PLAIN', 'plain'],
    ['SCRAM-SHA-256', 'scram-sha-256'],
    ['SCRAM-SHA-512', 'scram-sha-512'],
  ])('gives kafkajs mechanism %s as %s with the user and password', (mechanism, kafkajs) => {
    const { ssl, sasl } = connection({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: mechanism,
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD: 'wonderland',
    });
    expect(sasl).toEqual({ mechanism: kafkajs, username: 'alice', password: 'wonderland' });
    expect(ssl).toEqual({ rejectUnauthorized: true });
  });

  it('gives no ssl for SASL_PLAINTEXT', () => {
    const result = connection({
      KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      KAFKA_SASL_MECHANISM: 'PLAIN',
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD: 'wonderland',
    });
    expect(result.ssl).toBeUndefined();
    expect(result.sasl?.mechanism).toBe('plain');
  });

  it('reads the OAUTHBEARER token file again at each authentication', async () => {
    const { sasl } = connection({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
      KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: file('token'),
    });
    if (sasl?.mechanism !== 'oauthbearer') throw new Error('not oauthbearer');
    await expect(sasl.oauthBearerProvider()).resolves.toEqual({ value: 'first.jwt.token' });
    writeFileSync(file('token'), 'refreshed.jwt.token\n');
    await expect(sasl.oauthBearerProvider()).resolves.toEqual({ value: 'refreshed.jwt.token' });
  });
});

// kafkajs's types declare no argument, its code takes the message.
const SaslAuthenticationError = KafkaJSSASLAuthenticationError as unknown as new (
  message: string,
) => Error;
const RETRIES = { retryCount: 5, retryTime: 1000 };

describe('kafkaAccessProblem', () => {
  it('names Kafka and the SASL settings when authentication is refused, after retries too', () => {
    const refused = new SaslAuthenticationError(
      'SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
    );
    const problem = kafkaAccessProblem(new KafkaJSNumberOfRetriesExceeded(refused, RETRIES));
    expect(problem).toMatch(/^Kafka refused the SASL authentication/);
    expect(problem).toContain('KAFKA_SASL_PASSWORD');
  });

  it.each([
    'SELF_SIGNED_CERT_IN_CHAIN',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  ])('names Kafka, the TLS failure %s and the CA setting', (code) => {
    const err = new KafkaJSConnectionError(
      'Connection error: self-signed certificate in certificate chain',
      {
        broker: 'localhost:9093',
        code,
      },
    );
    const problem = kafkaAccessProblem(err);
    expect(problem).toMatch(new RegExp(`^Kafka TLS handshake failed \\(${code}`));
    expect(problem).toContain('KAFKA_SSL_CA_FILE');
  });

  it('names the protocol setting when the broker closes the connection at once', () => {
    // kafkajs's KafkaJSConnectionClosedError, which its typings do not export.
    const closed = Object.assign(
      new KafkaJSConnectionError('Closed connection', { broker: 'localhost:9093' }),
      { name: 'KafkaJSConnectionClosedError' },
    );
    const plainToTls = new KafkaJSConnectionError(
      'Connection error: Client network socket disconnected before secure TLS connection was established',
      { broker: 'localhost:9092', code: 'ECONNRESET' },
    );
    for (const err of [closed, plainToTls]) {
      const problem = kafkaAccessProblem(new KafkaJSNumberOfRetriesExceeded(err, RETRIES));
      expect(problem).toMatch(/^Kafka closed the connection at once/);
      expect(problem).toContain('KAFKA_SECURITY_PROTOCOL');
    }
  });

  it('says that the brokers want a client certificate, on one line', () => {
    const err = new KafkaJSConnectionError(
      'Connection error: 800C8D6E307F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:\nSSL alert number 116\n',
      { broker: 'localhost:9094', code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' },
    );
    const problem = kafkaAccessProblem(new KafkaJSNumberOfRetriesExceeded(err, RETRIES));
    expect(problem).toMatch(/^Kafka requires a client certificate/);
    expect(problem).toContain('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE');
    const tls = new KafkaJSConnectionError('Connection error: line one\n  line two', {
      broker: 'localhost:9094',
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    expect(kafkaAccessProblem(tls)).not.toContain('\n');
  });

  it('leaves a broker that is only unreachable to the retries', () => {
    const err = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
      broker: 'localhost:9093',
      code: 'ECONNREFUSED',
    });
    expect(kafkaAccessProblem(new KafkaJSNumberOfRetriesExceeded(err, RETRIES))).toBeUndefined();
  });
});
