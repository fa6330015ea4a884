import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:tls';
import pino from 'pino';
import { errorCatalogue } from '../domain/error-catalogue';
import { kafkaConnectionFields, loadConfig } from './config';
import { createKafka, kafkaConnection } from './kafka';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } from 'kafkajs';
import { asKafkaUnreachable, checkKafkaAccess } from './kafka-access';
import {
  createTestCertificates,
  type TestCertificates,
} from '../../../scripts/src/infra/certificates';

/**
 * kafkajs against a TLS server on loopback whose certificate no configured CA signed: not a
 * broker (the integration tests use the real one), but the handshake fails before a broker
 * would say anything, so the client's refusal is the one a real broker gets.
 */
describe('checkKafkaAccess against brokers whose certificate is not trusted', () => {
  let dir: string;
  let server: Server;
  let brokers: string;
  let certificates: TestCertificates;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'catchall-kafka-tls-'));
    certificates = await createTestCertificates(dir);
    server = createServer({
      key: readFileSync(certificates.serverKeyFile),
      cert: readFileSync(certificates.serverCertFile),
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    brokers = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops at once with CATCHALL_ACCESS_REFUSED naming Kafka, the TLS failure and the CA setting', async () => {
    const config = loadConfig(kafkaConnectionFields, {
      KAFKA_BROKERS: brokers,
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CA_FILE: certificates.untrustedCaFile,
    });
    const logger = pino({ level: 'silent' });
    const kafka = createKafka({
      ...kafkaConnection(config),
      clientId: 'access-test',
      logger,
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
    });
    const check = checkKafkaAccess(kafka, logger);
    await expect(check).rejects.toMatchObject({
      code: errorCatalogue.accessRefused.code,
      retriable: false,
    });
    await expect(check).rejects.toThrow(
      /^Kafka TLS handshake failed \((SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE).*KAFKA_SSL_CA_FILE/,
    );
  });
});

describe('asKafkaUnreachable', () => {
  it("names the brokers for kafkajs's failures, 'Broker not connected' included, and leaves others as they are", () => {
    for (const err of [
      new Error('Broker not connected'),
      new KafkaJSConnectionError('Connection timeout'),
      new KafkaJSNumberOfRetriesExceeded(new Error('Request timed out'), {
        retryCount: 5,
        retryTime: 5000,
      }),
    ]) {
      expect(asKafkaUnreachable(err, '127.0.0.1:9092')).toMatchObject({
        code: errorCatalogue.notReady.code,
        message: expect.stringMatching(/^Kafka at 127\.0\.0\.1:9092 failed or stopped answering/),
        cause: err,
      });
    }
    const other = new Error('ENOSPC');
    expect(asKafkaUnreachable(other, '127.0.0.1:9092')).toBe(other);
  });
});
