import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetchJaeger, fetchPrometheusBinaries, startInfra, type SecuredInfra } from './infra';
import { prepareK8sTools } from './k8s';

/**
 * The test command: starts a throwaway Kafka, registry and Postgres on free loopback ports,
 * runs jest against them (arguments are passed on), and stops everything whatever happens.
 */
const summaryFile = path.join(os.tmpdir(), `catchall-jest-${process.pid}.json`);

/** The plain closing line a CI log reader understands, from jest's JSON results. */
function printSummary(): void {
  if (!existsSync(summaryFile)) return;
  const results = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
  };
  rmSync(summaryFile, { force: true });
  const skipped = results.numPendingTests > 0 ? `, ${results.numPendingTests} skipped` : '';
  console.log(
    `Tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped}`,
  );
}

/** The secured parts for jest (read by `securedInfra()` in test/support/env.ts). */
function securedEnv(secured: SecuredInfra | undefined): Record<string, string> {
  if (!secured) return {};
  const c = secured.certificates;
  return {
    CATCHALL_TEST_KAFKA_SASL_SSL_BROKERS: secured.saslSslBrokers,
    CATCHALL_TEST_KAFKA_SSL_BROKERS: secured.sslBrokers,
    CATCHALL_TEST_CA_FILE: c.caFile,
    CATCHALL_TEST_UNTRUSTED_CA_FILE: c.untrustedCaFile,
    CATCHALL_TEST_CLIENT_CERT_FILE: c.clientCertFile,
    CATCHALL_TEST_CLIENT_KEY_FILE: c.clientKeyFile,
    CATCHALL_TEST_UNTRUSTED_CLIENT_CERT_FILE: c.untrustedClientCertFile,
    CATCHALL_TEST_UNTRUSTED_CLIENT_KEY_FILE: c.untrustedClientKeyFile,
    CATCHALL_TEST_KAFKA_PLAIN_USERNAME: secured.plainUser.username,
    CATCHALL_TEST_KAFKA_PLAIN_PASSWORD: secured.plainUser.password,
    CATCHALL_TEST_KAFKA_SCRAM_USERNAME: secured.scramUser.username,
    CATCHALL_TEST_KAFKA_SCRAM_PASSWORD: secured.scramUser.password,
    CATCHALL_TEST_KAFKA_OAUTHBEARER_TOKEN_FILE: secured.oauthTokenFile,
    CATCHALL_TEST_SECURED_REGISTRY_URL: secured.registryUrl,
    CATCHALL_TEST_REGISTRY_USERNAME: secured.registryUser.username,
    CATCHALL_TEST_REGISTRY_PASSWORD: secured.registryUser.password,
    CATCHALL_TEST_REGISTRY_TOKEN: secured.registryToken,
    ...(secured.postgresTlsAdminUrl
      ? { CATCHALL_TEST_POSTGRES_TLS_ADMIN_URL: secured.postgresTlsAdminUrl }
      : {}),
  };
}

async function main(): Promise<number> {
  const started = Date.now();
  const log = (message: string) =>
    console.log(`[infra +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
  log(
    'starting Kafka, schema registry and Postgres, plain and secured; preparing the Kubernetes manifest checks',
  );
  // The manifest tools are built while the servers start; a failure of either fails the run
  // (after stopping whatever did start).
  const k8sTools = prepareK8sTools(log);
  // Jaeger (the tracing test's OTLP receiver) is built from source: minutes on a fresh
  // machine, so while the servers start; at once when .local holds it already.
  const jaeger = fetchJaeger(log);
  // Prometheus and promtool (the rule checks and the metrics test) likewise; built here, once,
  // so that no two test files build them at the same time.
  const prometheus = fetchPrometheusBinaries(log);
  const infra = await startInfra({
    profile: 'test',
    secured: true,
    ports: { kafka: 0, kafkaController: 0, registry: 0, postgres: 0 },
    databaseUrl: process.env.DATABASE_URL,
    log,
  }).catch(async (err: unknown) => {
    await Promise.allSettled([k8sTools, jaeger, prometheus]);
    throw err;
  });
  const [tools] = await Promise.all([k8sTools, jaeger, prometheus]).catch(async (err: unknown) => {
    await Promise.allSettled([k8sTools, jaeger, prometheus]);
    await infra.stop();
    throw err;
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await infra.stop();
  };
  try {
    const jest = spawn(
      process.execPath,
      // --forceExit: a handle a test leaks must not hang the run; jest still reports it.
      [
        require.resolve('jest/bin/jest'),
        '--ci',
        '--forceExit',
        '--json',
        `--outputFile=${summaryFile}`,
        ...process.argv.slice(2),
      ],
      {
        stdio: 'inherit',
        env: {
          ...process.env,
          CATCHALL_TEST_KAFKA_BROKERS: infra.kafka.brokers,
          CATCHALL_TEST_REGISTRY_URL: infra.registry.url,
          CATCHALL_TEST_POSTGRES_ADMIN_URL: infra.postgres.adminUrl,
          CATCHALL_TEST_KAFKA_LIBS: infra.kafka.libs,
          CATCHALL_TEST_JAVA: infra.kafka.java,
          CATCHALL_TEST_K8S_TOOLS: JSON.stringify(tools),
          ...securedEnv(infra.secured),
        },
      },
    );
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => jest.kill(signal));
    }
    const code = await new Promise<number>((resolve) =>
      jest.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
    );
    log(`jest finished with exit code ${code}; stopping infrastructure`);
    return code;
  } finally {
    await stop();
    log('infrastructure stopped');
  }
}

main().then(
  (code) => {
    // Last, so that it is the closing line of the run.
    printSummary();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
