import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestCertificates, type TestCertificates } from './certificates';
import { startKafka, type RunningKafka } from './kafka';
import { localDir, ownFolder } from './paths';
import { freePort } from './ports';
import { externalPostgres, startPostgres, type RunningPostgres } from './postgres';
import { startRegistry, type RunningRegistry } from './registry';
import { startRegistryProxy } from './registry-proxy';
import { securedSecrets, type SecuredSecrets } from './secured-secrets';

export { startKafka, type RunningKafka } from './kafka';
export { startRegistry } from './registry';
export { startPostgres, externalPostgres, type RunningPostgres } from './postgres';
export { startStandby, type RunningStandby, type StandbyOptions } from './postgres-standby';
export { freePort, portIsFree } from './ports';
export { fetchKafka, fetchRegistry, fetchStrimziCrdGenerator } from './maven';
export {
  ALERT_RULES,
  fetchPrometheus,
  fetchPrometheusBinaries,
  fetchPromtool,
  localPrometheusConfig,
  prometheusRelease,
  startPrometheus,
  PROMETHEUS_FIRST_BUILD,
  PROMETHEUS_PID_FILE,
  prometheusBuilt,
  PROMETHEUS_VERSION,
  type PrometheusBinaries,
  type PrometheusTarget,
  type RunningPrometheus,
} from './prometheus';
export {
  fetchJaeger,
  startJaeger,
  jaegerRelease,
  JAEGER_VERSION,
  type RunningJaeger,
} from './jaeger';

export interface Infra {
  kafka: RunningKafka;
  registry: RunningRegistry;
  postgres: RunningPostgres;
  /** The secured parts (test profile): TLS and SASL listeners, the registry behind nginx. */
  secured?: SecuredInfra;
  /** Stops everything this started, in reverse order; idempotent. */
  stop(): Promise<void>;
}

export interface InfraOptions {
  /** `dev`: fixed ports, data kept in .local/; `test`: free ports, throwaway data. */
  profile: 'dev' | 'test';
  ports: { kafka: number; kafkaController: number; registry: number; postgres: number };
  /** When set, this Postgres is used instead of starting one. */
  databaseUrl?: string;
  /**
   * Also start the secured parts (test profile only): certificates, Kafka's SASL_SSL and
   * mutual TLS listeners, Postgres with TLS, the registry behind an https proxy with auth.
   */
  secured?: boolean;
  /** Postgres's shared_buffers (default 256MB); benchmarks size it to their read model. */
  postgresSharedBuffers?: string;
  log?: (message: string) => void;
}

/** What tests of secured clients are given besides the plain parts' addresses. */
export interface SecuredInfra extends SecuredSecrets {
  certificates: TestCertificates;
  saslSslBrokers: string;
  sslBrokers: string;
  /** The registry through nginx: https, basic auth or bearer token. */
  registryUrl: string;
  /** Postgres over TLS (verify-full); absent when an external DATABASE_URL is used. */
  postgresTlsAdminUrl?: string;
}

async function portsFor(options: InfraOptions) {
  if (options.profile === 'dev') return { ...options.ports, saslSsl: 0, ssl: 0, registryProxy: 0 };
  return {
    kafka: await freePort(),
    kafkaController: await freePort(),
    registry: await freePort(),
    postgres: await freePort(),
    saslSsl: await freePort(),
    ssl: await freePort(),
    registryProxy: await freePort(),
  };
}

/**
 * The folder that holds a dev run's Postgres data, for the dev folder `base`: `base` itself,
 * or as root a folder of the system's temporary folder named after `base`, since Postgres
 * then runs as its own user, which must be able to reach its data folder (a folder under
 * the repository may sit below one only root can enter).
 */
export function devPostgresBase(base: string): string {
  if (process.getuid?.() !== 0) return base;
  const name = `catchall-dev-${createHash('sha1').update(base).digest('hex').slice(0, 10)}`;
  return path.join(os.tmpdir(), name);
}

/** Folders of a run: kept under .local/ for dev, a fresh temp folder for tests. */
function runDirs(profile: InfraOptions['profile']) {
  const base =
    profile === 'dev' ? localDir('dev') : mkdtempSync(path.join(os.tmpdir(), 'catchall-test-'));
  const pgBase = profile === 'dev' ? devPostgresBase(base) : base;
  // Kafka's data and the read model are one unit: positions stored in Postgres mean nothing
  // on a broker formatted anew, so a dev Postgres whose broker data is gone starts anew too.
  const pgData = path.join(pgBase, 'postgres');
  if (profile === 'dev' && !existsSync(path.join(base, 'kafka', 'data', 'meta.properties'))) {
    rmSync(pgData, { recursive: true, force: true });
  }
  mkdirSync(base, { recursive: true });
  chmodSync(base, 0o755);
  // As root, pgBase is at a known path in the system's temporary folder: ours only.
  if (pgBase !== base) ownFolder(pgBase);
  return { base, pgBase, throwaway: profile === 'test' };
}

/**
 * Starts Kafka, Postgres and then the registry (which stores its schemas in that Postgres
 * for dev runs); a part that fails stops those already started and the error says why.
 */
export async function startInfra(options: InfraOptions): Promise<Infra> {
  const log = options.log ?? (() => undefined);
  const ports = await portsFor(options);
  const dirs = runDirs(options.profile);
  // Only test runs that ask get the secured parts: `npm start` and benchmarks stay as they were.
  const certificates =
    options.secured && options.profile === 'test'
      ? await createTestCertificates(path.join(dirs.base, 'certificates'))
      : undefined;
  const secrets = certificates ? securedSecrets(path.join(dirs.base, 'certificates')) : undefined;
  const started: { name: string; stop: () => Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const part of started.reverse()) {
        log(`stopping ${part.name}`);
        await part.stop();
      }
      if (dirs.throwaway) rmSync(dirs.base, { recursive: true, force: true });
    })();
    return stopping;
  };
  const track = <T extends { stop(): Promise<void> }>(name: string, part: T): T => {
    started.push({ name, stop: () => part.stop() });
    log(`${name} ready`);
    return part;
  };
  const kafkaStarting = startKafka({
    dir: path.join(dirs.base, 'kafka'),
    port: ports.kafka,
    controllerPort: ports.kafkaController,
    secured:
      certificates && secrets
        ? {
            saslSslPort: ports.saslSsl,
            sslPort: ports.ssl,
            certificates,
            plainUser: secrets.plainUser,
            scramUser: secrets.scramUser,
          }
        : undefined,
  }).then((k) => track('kafka', k));
  const postgresStarting = options.databaseUrl
    ? Promise.resolve(externalPostgres(options.databaseUrl))
    : startPostgres({
        dataDir: path.join(dirs.pgBase, 'postgres', 'data'),
        logFile: path.join(dirs.base, 'postgres.log'),
        port: ports.postgres,
        unsafeFast: options.profile === 'test',
        sharedBuffers: options.postgresSharedBuffers,
        tls: certificates && {
          certFile: certificates.serverCertFile,
          keyFile: certificates.serverKeyFile,
          caFile: certificates.caFile,
        },
      }).then((p) => track('postgres', p));
  // Dev runs keep their schemas in Postgres; test runs keep them in memory and need not wait.
  const registryStarting = (
    options.profile === 'dev' ? postgresStarting.then(registryStorage) : Promise.resolve(undefined)
  )
    .then((storage) =>
      startRegistry({
        dir: path.join(dirs.base, 'registry'),
        port: ports.registry,
        postgres: storage,
      }),
    )
    .then((r) => track('schema registry', r));
  const proxyStarting =
    certificates && secrets
      ? registryStarting
          .then((registry) =>
            startRegistryProxy({
              dir: path.join(dirs.base, 'registry-proxy'),
              port: ports.registryProxy,
              upstreamUrl: registry.url,
              certFile: certificates.serverCertFile,
              keyFile: certificates.serverKeyFile,
              caFile: certificates.caFile,
              basicUser: secrets.registryUser,
              token: secrets.registryToken,
            }),
          )
          .then((p) => track('registry proxy', p))
      : Promise.resolve(undefined);
  const [kafka, postgres, registry, proxy] = await Promise.allSettled([
    kafkaStarting,
    postgresStarting,
    registryStarting,
    proxyStarting,
  ]);
  if (
    kafka.status === 'fulfilled' &&
    postgres.status === 'fulfilled' &&
    registry.status === 'fulfilled' &&
    proxy.status === 'fulfilled'
  ) {
    const secured =
      certificates && secrets && proxy.value
        ? {
            ...secrets,
            certificates,
            saslSslBrokers: kafka.value.saslSslBrokers!,
            sslBrokers: kafka.value.sslBrokers!,
            registryUrl: proxy.value.url,
            postgresTlsAdminUrl: postgres.value.tlsAdminUrl,
          }
        : undefined;
    return {
      kafka: kafka.value,
      postgres: postgres.value,
      registry: registry.value,
      secured,
      stop,
    };
  }
  await stop();
  const reasons = [kafka, postgres, registry, proxy]
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => (r.reason as Error).message);
  // The proxy waits on the registry: a registry that failed is one reason, not two.
  throw new Error(`local infrastructure did not start:\n${[...new Set(reasons)].join('\n\n')}`);
}

/** Dev runs keep their schemas across restarts, in a database of their own. */
async function registryStorage(postgres: RunningPostgres) {
  await postgres.createDatabase('registry');
  const url = new URL(postgres.urlFor('registry'));
  return {
    jdbcUrl: `jdbc:postgresql://${url.host}${url.pathname}`,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}
