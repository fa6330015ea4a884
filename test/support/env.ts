/** Where the test runner (`npm test`) started the real broker, registry and Postgres. */
export interface TestInfra {
  brokers: string;
  registryUrl: string;
  postgresAdminUrl: string;
  kafkaLibs: string;
  java: string;
  /** The secured parts, read when first used (`securedInfra()`). */
  readonly secured: SecuredTestInfra;
}

export function testInfra(): TestInfra {
  const env = process.env;
  const brokers = env.CATCHALL_TEST_KAFKA_BROKERS;
  const registryUrl = env.CATCHALL_TEST_REGISTRY_URL;
  const postgresAdminUrl = env.CATCHALL_TEST_POSTGRES_ADMIN_URL;
  if (!brokers || !registryUrl || !postgresAdminUrl) {
    throw new Error(
      'Integration tests need the local infrastructure: run them with `npm test` (or `npm test -- <pattern>`).',
    );
  }
  return {
    brokers,
    registryUrl,
    postgresAdminUrl,
    kafkaLibs: env.CATCHALL_TEST_KAFKA_LIBS ?? '',
    java: env.CATCHALL_TEST_JAVA ?? 'java',
    get secured() {
      return securedInfra();
    },
  };
}

/** A user and password (Kafka SASL PLAIN or SCRAM, registry basic auth). */
export interface TestCredentials {
  username: string;
  password: string;
}

/**
 * The secured parts `npm test` starts beside the plain ones, fresh for each run (certificates
 * and credentials included). Every file is PEM; keys are unencrypted PKCS#8.
 */
export interface SecuredTestInfra {
  /** Kafka's SASL_SSL listener: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER. */
  saslSslBrokers: string;
  /** Kafka's SSL listener with `ssl.client.auth=required` (mutual TLS). */
  sslBrokers: string;
  /** The CA that signed every server's certificate and the client certificate. */
  caFile: string;
  /** A CA nothing trusts: as a client's CA, every server must be refused. */
  untrustedCaFile: string;
  /** Client certificate (CN catchall-client) and key for mutual TLS, signed by the CA. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A client certificate and key signed by the untrusted CA: servers refuse them. */
  untrustedClientCertFile: string;
  untrustedClientKeyFile: string;
  users: {
    /** Kafka SASL/PLAIN. */
    plain: TestCredentials;
    /** Kafka SASL/SCRAM, valid for both SCRAM-SHA-256 and SCRAM-SHA-512. */
    scram: TestCredentials;
  };
  /** An unsecured JWT (alg none, sub oauth-user, a day long) for Kafka's OAUTHBEARER. */
  oauthTokenFile: string;
  /** The registry through nginx: https (the CA's), same path as the plain registry URL. */
  registryUrl: string;
  /** The proxy accepts basic auth with these, or `Authorization: Bearer <registryToken>`. */
  registryUser: string;
  registryPassword: string;
  registryToken: string;
  /**
   * Postgres's `postgres` database over TLS: host localhost, `sslmode=verify-full` and
   * `sslrootcert=<caFile>` (see `postgresTlsUrlFor`). Absent with an external DATABASE_URL.
   */
  postgresTlsAdminUrl?: string;
}

const SECURED_ENV = {
  saslSslBrokers: 'CATCHALL_TEST_KAFKA_SASL_SSL_BROKERS',
  sslBrokers: 'CATCHALL_TEST_KAFKA_SSL_BROKERS',
  caFile: 'CATCHALL_TEST_CA_FILE',
  untrustedCaFile: 'CATCHALL_TEST_UNTRUSTED_CA_FILE',
  clientCertFile: 'CATCHALL_TEST_CLIENT_CERT_FILE',
  clientKeyFile: 'CATCHALL_TEST_CLIENT_KEY_FILE',
  untrustedClientCertFile: 'CATCHALL_TEST_UNTRUSTED_CLIENT_CERT_FILE',
  untrustedClientKeyFile: 'CATCHALL_TEST_UNTRUSTED_CLIENT_KEY_FILE',
  plainUsername: 'CATCHALL_TEST_KAFKA_PLAIN_USERNAME',
  plainPassword: 'CATCHALL_TEST_KAFKA_PLAIN_PASSWORD',
  scramUsername: 'CATCHALL_TEST_KAFKA_SCRAM_USERNAME',
  scramPassword: 'CATCHALL_TEST_KAFKA_SCRAM_PASSWORD',
  oauthTokenFile: 'CATCHALL_TEST_KAFKA_OAUTHBEARER_TOKEN_FILE',
  registryUrl: 'CATCHALL_TEST_SECURED_REGISTRY_URL',
  registryUser: 'CATCHALL_TEST_REGISTRY_USERNAME',
  registryPassword: 'CATCHALL_TEST_REGISTRY_PASSWORD',
  registryToken: 'CATCHALL_TEST_REGISTRY_TOKEN',
} as const;

/** The secured parts of the test infrastructure (SecuredTestInfra), from `npm test`. */
export function securedInfra(): SecuredTestInfra {
  const env = process.env;
  const missing = Object.values(SECURED_ENV).filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new Error(
      `Tests of secured connections need the secured test infrastructure (${missing.join(', ')} unset): run them with \`npm test\`.`,
    );
  }
  const get = (key: keyof typeof SECURED_ENV) => env[SECURED_ENV[key]]!;
  return {
    saslSslBrokers: get('saslSslBrokers'),
    sslBrokers: get('sslBrokers'),
    caFile: get('caFile'),
    untrustedCaFile: get('untrustedCaFile'),
    clientCertFile: get('clientCertFile'),
    clientKeyFile: get('clientKeyFile'),
    untrustedClientCertFile: get('untrustedClientCertFile'),
    untrustedClientKeyFile: get('untrustedClientKeyFile'),
    users: {
      plain: { username: get('plainUsername'), password: get('plainPassword') },
      scram: { username: get('scramUsername'), password: get('scramPassword') },
    },
    oauthTokenFile: get('oauthTokenFile'),
    registryUrl: get('registryUrl'),
    registryUser: get('registryUser'),
    registryPassword: get('registryPassword'),
    registryToken: get('registryToken'),
    postgresTlsAdminUrl: env.CATCHALL_TEST_POSTGRES_TLS_ADMIN_URL,
  };
}

/**
 * A database's URL over TLS (verify-full, host localhost), for a database made with the
 * plain admin URL (`createTestDatabase`): the same server, reached through its TLS side.
 */
export function postgresTlsUrlFor(database: string): string {
  const admin = securedInfra().postgresTlsAdminUrl;
  if (!admin) {
    throw new Error('Postgres over TLS is only started by `npm test` without DATABASE_URL.');
  }
  const url = new URL(admin);
  url.pathname = `/${database}`;
  return url.toString();
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The projector's settings for a topic and database of a test's own (a fresh group). */
export function projectorEnv(topic: string, databaseUrl: string): Record<string, string> {
  const infra = testInfra();
  return {
    KAFKA_BROKERS: infra.brokers,
    SCHEMA_REGISTRY_URL: infra.registryUrl,
    DATABASE_URL: databaseUrl,
    EVENTS_TOPIC: topic,
    CONSUMER_GROUP: uniqueName('projector'),
  };
}
