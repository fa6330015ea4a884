import type { TProperties } from '@sinclair/typebox';

/**
 * The variables that hold a secret (README, "Configuration of the services"): each may be
 * given as `<NAME>_FILE` instead, the path of a file holding the value, as Kubernetes mounts
 * Secrets.
 */
export const SECRET_VARIABLES = new Set([
  'API_TOKENS',
  'QUERY_API_TOKENS',
  'DATABASE_URL',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_KEY_PASSWORD',
  'SCHEMA_REGISTRY_PASSWORD',
  'SCHEMA_REGISTRY_TOKEN',
]);

const KAFKA_SECURITY = [
  'KAFKA_SECURITY_PROTOCOL',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'KAFKA_SSL_KEY_PASSWORD',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
];
const REGISTRY_SECURITY = [
  'SCHEMA_REGISTRY_USERNAME',
  'SCHEMA_REGISTRY_PASSWORD',
  'SCHEMA_REGISTRY_TOKEN',
  'SCHEMA_REGISTRY_CA_FILE',
];

/**
 * The secured-connection variables each program reads, for a configuration schema that does
 * not declare them yet: a name missing from the schema but listed here is accepted (its
 * value is then not checked). Once the schemas declare them all, this changes nothing.
 */
export const SECURED_CONNECTION_VARIABLES: Record<string, string[]> = {
  'producer-api': [...KAFKA_SECURITY, ...REGISTRY_SECURITY, 'API_TOKENS'],
  consumer: [...KAFKA_SECURITY, ...REGISTRY_SECURITY],
  'query-api': ['QUERY_API_TOKENS'],
  setup: [...KAFKA_SECURITY],
};

function reads(program: string, fields: TProperties, name: string): boolean {
  return name in fields || (SECURED_CONNECTION_VARIABLES[program] ?? []).includes(name);
}

/**
 * The variable a name given to a program sets: itself, or for `<NAME>_FILE` the secret
 * NAME; undefined when the program reads neither.
 */
export function variableSet(
  program: string,
  fields: TProperties,
  name: string,
): string | undefined {
  if (reads(program, fields, name)) return name;
  const secret = name.replace(/_FILE$/, '');
  if (secret !== name && SECRET_VARIABLES.has(secret) && reads(program, fields, secret)) {
    return secret;
  }
  return undefined;
}
