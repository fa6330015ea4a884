import { readFileSync } from 'node:fs';
import envSchema from 'env-schema';
import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { DEFAULT_CATCH_ALL_THRESHOLD } from '../domain/status';
import { DEFAULT_EVENTS_TOPIC } from '../domain/topics';
import { errorCatalogue } from '../domain/error-catalogue';
import { crossFieldProblems, fileProblem } from './config-checks';

const SECRET = Symbol.for('catchall.config.secret');

/**
 * Marks a field as secret: its value is never echoed in a ConfigError, and it may also be
 * given as a file, `<NAME>_FILE` (as Kubernetes mounts Secrets). A symbol rather than a
 * keyword, since the schema validator refuses keywords it does not know.
 */
export function secret<T extends TSchema>(schema: T): T {
  return Object.assign(schema, { [SECRET]: true });
}

export function isSecret(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && SECRET in schema;
}

/**
 * Every environment variable a service may read, defined once with its default and its
 * meaning. Each service picks the ones it needs; the README's configuration table lists
 * the same names.
 */
export const configFields = {
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino log level' },
  ),
  HOST: Type.String({ default: '127.0.0.1', description: 'address the HTTP server binds to' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 10000,
    description: 'deadline for a graceful shutdown before the process exits anyway',
  }),
  REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 1000,
    default: 30000,
    description:
      'a request whose line, headers and body have not all arrived within this is answered 408 and its connection closed (slow clients)',
  }),
  WORKERS: Type.Integer({
    minimum: 1,
    maximum: 64,
    default: 1,
    description:
      'processes answering on the port (node:cluster); 1 in a container, where replicas scale instead',
  }),
  DEPENDENCY_CHECK_INTERVAL_MS: Type.Integer({
    minimum: 100,
    maximum: 60000,
    default: 5000,
    description:
      'how often Kafka, the schema registry (projector) and Postgres (projector, query API) are asked a cheap request in the background for /readyz and catchall_readiness, traffic or not',
  }),
  DEPENDENCY_CHECK_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 60000,
    default: 3000,
    description:
      'a background dependency check not answered within this fails; a dependency that stops answering is reported within about DEPENDENCY_CHECK_INTERVAL_MS plus this',
  }),
  KAFKA_BROKERS: Type.String({
    default: '127.0.0.1:9092',
    description: 'comma-separated Kafka bootstrap brokers (the broker listener)',
  }),
  KAFKA_CLIENT_ID: Type.String({ default: 'catch-all', description: 'Kafka client id' }),
  EVENTS_TOPIC: Type.String({
    default: DEFAULT_EVENTS_TOPIC,
    minLength: 1,
    description: 'topic of domain events; its dead-letter topic is `<topic>.dlq`',
  }),
  EVENTS_TOPIC_PARTITIONS: Type.Integer({
    minimum: 1,
    default: 12,
    description:
      'partitions of the events topic when setup creates it (the consumers scale up to it)',
  }),
  EVENTS_TOPIC_REPLICATION: Type.Integer({
    minimum: 1,
    default: 1,
    description: 'replication factor of the topics when setup creates them (3 in production)',
  }),
  KAFKA_SECURITY_PROTOCOL: Type.Union(
    ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].map((p) => Type.Literal(p)),
    {
      default: 'PLAINTEXT',
      description: "how the clients talk to the brokers (Kafka's security.protocol)",
    },
  ),
  KAFKA_SSL_CA_FILE: Type.String({
    default: '',
    description:
      "PEM CA bundle trusted for the brokers' certificates (empty: Node's default CAs); the host name is always checked",
  }),
  KAFKA_SSL_CERT_FILE: Type.String({
    default: '',
    description: 'PEM client certificate for mutual TLS (with KAFKA_SSL_KEY_FILE)',
  }),
  KAFKA_SSL_KEY_FILE: Type.String({
    default: '',
    description: 'PEM private key of the client certificate (with KAFKA_SSL_CERT_FILE)',
  }),
  KAFKA_SSL_KEY_PASSWORD: secret(
    Type.String({ default: '', description: 'passphrase of an encrypted KAFKA_SSL_KEY_FILE' }),
  ),
  KAFKA_SASL_MECHANISM: Type.Union(
    ['', 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'].map((m) => Type.Literal(m)),
    {
      default: '',
      description: 'SASL mechanism; required with a SASL_* protocol and refused with any other',
    },
  ),
  KAFKA_SASL_USERNAME: Type.String({ default: '', description: 'SASL user (PLAIN, SCRAM)' }),
  KAFKA_SASL_PASSWORD: secret(
    Type.String({ default: '', description: 'SASL password (PLAIN, SCRAM)' }),
  ),
  KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: Type.String({
    default: '',
    description:
      'file holding the OAUTHBEARER token (a JWT), read again at each authentication so that a sidecar can refresh it',
  }),
  SCHEMA_REGISTRY_URL: Type.String({
    default: 'http://127.0.0.1:8081/apis/ccompat/v7',
    description: 'Confluent-compatible schema registry API',
  }),
  SCHEMA_REGISTRY_USERNAME: Type.String({
    default: '',
    description: 'user of HTTP basic authentication to the registry',
  }),
  SCHEMA_REGISTRY_PASSWORD: secret(
    Type.String({
      default: '',
      description: 'password of HTTP basic authentication to the registry',
    }),
  ),
  SCHEMA_REGISTRY_TOKEN: secret(
    Type.String({
      default: '',
      description: 'bearer token sent to the registry (instead of basic authentication)',
    }),
  ),
  SCHEMA_REGISTRY_CA_FILE: Type.String({
    default: '',
    description: "PEM CA bundle trusted for an https registry (empty: Node's default CAs)",
  }),
  DATABASE_URL: secret(
    Type.String({
      default: 'postgres://postgres:postgres@127.0.0.1:5432/catchall',
      description:
        'Postgres connection string of the read model (libpq parameters such as sslmode=verify-full&sslrootcert=<file> apply)',
    }),
  ),
  PG_POOL_MAX: Type.Integer({ minimum: 1, default: 10, description: 'Postgres pool size' }),
  CATCH_ALL_THRESHOLD: Type.Integer({
    minimum: 0,
    default: DEFAULT_CATCH_ALL_THRESHOLD,
    description: 'a domain with more deliveries than this and no bounce is a catch-all',
  }),
};

/** What every program that connects to Kafka reads besides KAFKA_BROKERS: one set, checked together. */
export const kafkaSecurityFields = {
  KAFKA_SECURITY_PROTOCOL: configFields.KAFKA_SECURITY_PROTOCOL,
  KAFKA_SSL_CA_FILE: configFields.KAFKA_SSL_CA_FILE,
  KAFKA_SSL_CERT_FILE: configFields.KAFKA_SSL_CERT_FILE,
  KAFKA_SSL_KEY_FILE: configFields.KAFKA_SSL_KEY_FILE,
  KAFKA_SSL_KEY_PASSWORD: configFields.KAFKA_SSL_KEY_PASSWORD,
  KAFKA_SASL_MECHANISM: configFields.KAFKA_SASL_MECHANISM,
  KAFKA_SASL_USERNAME: configFields.KAFKA_SASL_USERNAME,
  KAFKA_SASL_PASSWORD: configFields.KAFKA_SASL_PASSWORD,
  KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: configFields.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE,
};

/** The Kafka connection of a program: the brokers and how to reach them. */
export const kafkaConnectionFields = {
  KAFKA_BROKERS: configFields.KAFKA_BROKERS,
  ...kafkaSecurityFields,
};
export type KafkaConnectionConfig = Static<TObject<typeof kafkaConnectionFields>>;

/** What every program that talks to the schema registry reads. */
export const registryConnectionFields = {
  SCHEMA_REGISTRY_URL: configFields.SCHEMA_REGISTRY_URL,
  SCHEMA_REGISTRY_USERNAME: configFields.SCHEMA_REGISTRY_USERNAME,
  SCHEMA_REGISTRY_PASSWORD: configFields.SCHEMA_REGISTRY_PASSWORD,
  SCHEMA_REGISTRY_TOKEN: configFields.SCHEMA_REGISTRY_TOKEN,
  SCHEMA_REGISTRY_CA_FILE: configFields.SCHEMA_REGISTRY_CA_FILE,
};
export type RegistryConnectionConfig = Static<TObject<typeof registryConnectionFields>>;

/** A configuration variable is missing or wrong: the program does not start. */
export class ConfigError extends Error {
  readonly code = errorCatalogue.invalidConfig.code;
  readonly retriable = errorCatalogue.invalidConfig.retriable;
}

interface AjvError {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** The values a field of literals takes (`Type.Union` of `Type.Literal`), if it is one. */
function literals(schema: unknown): string[] | undefined {
  const anyOf = (schema as { anyOf?: { const?: unknown }[] } | undefined)?.anyOf;
  if (!anyOf?.every((s) => s.const !== undefined)) return undefined;
  return anyOf.map((s) => (s.const === '' ? '(empty)' : String(s.const)));
}

function describe(
  error: AjvError,
  env: Record<string, string | undefined>,
  properties: TProperties,
): string {
  const missing = error.params?.missingProperty;
  const name =
    error.instancePath.replace(/^\//, '') || (typeof missing === 'string' ? missing : '');
  const got = env[name];
  // A secret's value is not repeated, even a wrong one: it may be most of the right one.
  const shown = got === undefined || isSecret(properties[name]) ? '' : ` (got "${got}")`;
  // A union of literals fails once per literal and once more for the union: one line instead.
  const values = literals(properties[name]);
  const message = values ? `must be one of ${values.join(', ')}` : (error.message ?? 'is invalid');
  return `${name} ${message}${shown}`;
}

/**
 * The environment with each secret given as `<NAME>_FILE` read into `<NAME>`: the file's
 * content without one trailing newline (what `echo` and most editors add).
 */
function readSecretFiles(
  properties: TProperties,
  env: Record<string, string | undefined>,
): { env: Record<string, string | undefined>; problems: string[] } {
  const resolved = { ...env };
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(properties)) {
    const fileVariable = `${name}_FILE`;
    const file = env[fileVariable];
    // Empty is unset, as a deployment template that leaves the variable blank means.
    if (!isSecret(schema) || file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`set ${name} or ${fileVariable}, not both`);
      continue;
    }
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${fileVariable} cannot be read (${fileProblem(err)}): ${file}`);
      continue;
    }
    // A file that is there but empty is a Secret not filled in, not a choice of ''.
    if (resolved[name].trim() === '') problems.push(`${fileVariable} is empty: ${file}`);
  }
  return { env: resolved, problems };
}

/**
 * Reads and validates a service's configuration once, at start. A wrong value throws a
 * ConfigError that names each offending variable; a secret's value is never in it. Every
 * secret field may come from the file `<NAME>_FILE` instead. Settings that only make sense
 * together (Kafka security, registry authentication, DATABASE_URL's certificate files) are
 * checked together, and the files they name must be readable.
 */
export function loadConfig<T extends TProperties>(
  properties: T,
  env: Record<string, string | undefined>,
): Static<TObject<T>> {
  const schema = Type.Object(properties);
  const files = readSecretFiles(properties, env);
  let config: Static<TObject<T>>;
  try {
    config = envSchema<Static<TObject<T>>>({ schema, data: files.env, dotenv: false });
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors;
    if (!errors) throw err;
    const described = errors.map((e) => describe(e, files.env, properties));
    const details = [...files.problems, ...new Set(described)];
    throw new ConfigError(`Invalid configuration: ${details.join('; ')}`);
  }
  // A secret file that could not be read leaves its setting unset: the checks of settings
  // that go together would only add a misleading second reason.
  const problems = files.problems.length > 0 ? files.problems : crossFieldProblems(config);
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return config;
}

/**
 * Every environment variable a program with these fields reads: each field's name, and
 * `<NAME>_FILE` for each secret one (what a deployment may set instead).
 */
export function configVariables(properties: TProperties): string[] {
  return Object.entries(properties).flatMap(([name, schema]) =>
    isSecret(schema) ? [name, `${name}_FILE`] : [name],
  );
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
