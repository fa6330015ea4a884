import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/**
 * Checks of settings that only make sense together, run by loadConfig on the values a
 * program reads (a program that reads no Kafka security setting skips those checks). Each
 * problem names the variables to change; none repeats a secret's value.
 */

type Values = Record<string, unknown>;

/** Why a file could not be read, in a few words (the error code, never its content). */
export function fileProblem(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : (err as Error).message;
}

/**
 * A problem with the PEM file named by `variable`, if any (unset is fine): it must hold a
 * block of the kind the variable takes (`CERTIFICATE` for a CA or a certificate, a
 * `PRIVATE KEY` for a key), so that a key given as a CA is named here, not by a TLS
 * handshake that fails later for another apparent reason.
 */
function pemFileProblem(
  variable: string,
  file: unknown,
  kind: 'CERTIFICATE' | 'PRIVATE KEY' = 'CERTIFICATE',
): string | undefined {
  if (typeof file !== 'string' || file === '') return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return `${variable} cannot be read (${fileProblem(err)}): ${file}`;
  }
  if (!text.includes('-----BEGIN ')) return `${variable} holds no PEM block: ${file}`;
  const holds =
    kind === 'CERTIFICATE'
      ? text.includes('-----BEGIN CERTIFICATE-----')
      : /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  return holds ? undefined : `${variable} holds no PEM ${kind.toLowerCase()}: ${file}`;
}

function readableFileProblem(variable: string, file: unknown): string | undefined {
  if (typeof file !== 'string' || file === '') return undefined;
  try {
    readFileSync(file);
    return undefined;
  } catch (err) {
    return `${variable} cannot be read (${fileProblem(err)}): ${file}`;
  }
}

function kafkaProblems(v: Values): string[] {
  if (!('KAFKA_SECURITY_PROTOCOL' in v)) return [];
  const protocol = v.KAFKA_SECURITY_PROTOCOL as string;
  const mechanism = (v.KAFKA_SASL_MECHANISM as string | undefined) ?? '';
  const sasl = protocol.startsWith('SASL_');
  const tls = protocol.endsWith('SSL');
  const problems: string[] = [];
  if (sasl && mechanism === '') {
    problems.push(
      `KAFKA_SECURITY_PROTOCOL=${protocol} needs KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)`,
    );
  }
  if (!sasl && mechanism !== '') {
    problems.push(
      `KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT (it is ${protocol})`,
    );
  }
  if (sasl && mechanism === 'OAUTHBEARER') {
    if (v.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE === '') {
      problems.push('KAFKA_SASL_MECHANISM=OAUTHBEARER needs KAFKA_SASL_OAUTHBEARER_TOKEN_FILE');
    }
  } else if (sasl && mechanism !== '') {
    if (v.KAFKA_SASL_USERNAME === '' || v.KAFKA_SASL_PASSWORD === '') {
      problems.push(
        `KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)`,
      );
    }
  }
  const cert = v.KAFKA_SSL_CERT_FILE !== '';
  const key = v.KAFKA_SSL_KEY_FILE !== '';
  if (cert !== key) {
    problems.push('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together: set both or neither');
  }
  if (!tls) {
    const tlsOnly = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'].filter(
      (name) => v[name] !== '' && v[name] !== undefined,
    );
    if (tlsOnly.length > 0) {
      problems.push(
        `${tlsOnly.join(', ')} ${tlsOnly.length === 1 ? 'needs' : 'need'} KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL (it is ${protocol})`,
      );
    }
  }
  for (const name of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE']) {
    const kind = name === 'KAFKA_SSL_KEY_FILE' ? 'PRIVATE KEY' : 'CERTIFICATE';
    const problem = pemFileProblem(name, v[name], kind);
    if (problem) problems.push(problem);
  }
  const token = readableFileProblem(
    'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
    v.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE,
  );
  if (token) problems.push(token);
  if (problems.length === 0 && cert && key) problems.push(...clientKeyProblems(v));
  // Settings that would do nothing are refused: they say the operator meant something else.
  if (!key && v.KAFKA_SSL_KEY_PASSWORD !== '' && v.KAFKA_SSL_KEY_PASSWORD !== undefined) {
    problems.push('KAFKA_SSL_KEY_PASSWORD is set but KAFKA_SSL_KEY_FILE is not');
  }
  if (mechanism !== 'OAUTHBEARER' && (v.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE ?? '') !== '') {
    problems.push(
      `KAFKA_SASL_OAUTHBEARER_TOKEN_FILE is only read with KAFKA_SASL_MECHANISM=OAUTHBEARER (it is ${mechanism || 'unset'})`,
    );
  }
  return problems;
}

/**
 * The client key must open with KAFKA_SSL_KEY_PASSWORD (when encrypted) and belong to the
 * first certificate of KAFKA_SSL_CERT_FILE: checked here, since the TLS handshake would
 * otherwise fail with OpenSSL's words only ("bad decrypt", "key values mismatch").
 */
function clientKeyProblems(v: Values): string[] {
  const passphrase = (v.KAFKA_SSL_KEY_PASSWORD as string | undefined) || undefined;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: readFileSync(v.KAFKA_SSL_KEY_FILE as string), passphrase });
  } catch {
    return [
      passphrase === undefined
        ? 'KAFKA_SSL_KEY_FILE cannot be read as a private key (an encrypted key needs KAFKA_SSL_KEY_PASSWORD)'
        : 'KAFKA_SSL_KEY_FILE cannot be opened with KAFKA_SSL_KEY_PASSWORD (a wrong passphrase, or not a private key)',
    ];
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(readFileSync(v.KAFKA_SSL_CERT_FILE as string));
  } catch {
    return ['KAFKA_SSL_CERT_FILE holds no readable certificate'];
  }
  return certificate.checkPrivateKey(key)
    ? []
    : ['KAFKA_SSL_KEY_FILE is not the key of the certificate in KAFKA_SSL_CERT_FILE'];
}

/** Whether a URL names this machine (127.0.0.0/8, ::1, localhost). */
function loopback(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function registryProblems(v: Values): string[] {
  if (!('SCHEMA_REGISTRY_TOKEN' in v)) return [];
  const problems: string[] = [];
  const user = v.SCHEMA_REGISTRY_USERNAME !== '';
  const password = v.SCHEMA_REGISTRY_PASSWORD !== '';
  if (v.SCHEMA_REGISTRY_TOKEN !== '' && (user || password)) {
    problems.push(
      'SCHEMA_REGISTRY_TOKEN and SCHEMA_REGISTRY_USERNAME/SCHEMA_REGISTRY_PASSWORD exclude each other: set one way of authenticating',
    );
  }
  if (user !== password) {
    problems.push('SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together');
  }
  if (typeof v.SCHEMA_REGISTRY_URL === 'string' && URL.canParse(v.SCHEMA_REGISTRY_URL)) {
    const url = new URL(v.SCHEMA_REGISTRY_URL);
    // The URL shows in errors and logs; credentials go in the secret settings.
    if (url.username !== '' || url.password !== '') {
      problems.push(
        'SCHEMA_REGISTRY_URL holds credentials: give them as SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD',
      );
    }
  }
  const ca = pemFileProblem('SCHEMA_REGISTRY_CA_FILE', v.SCHEMA_REGISTRY_CA_FILE);
  if (ca) problems.push(ca);
  const url = typeof v.SCHEMA_REGISTRY_URL === 'string' ? v.SCHEMA_REGISTRY_URL : '';
  const https = url.startsWith('https://');
  if (!https && (v.SCHEMA_REGISTRY_CA_FILE ?? '') !== '') {
    problems.push('SCHEMA_REGISTRY_CA_FILE is only used with an https SCHEMA_REGISTRY_URL');
  }
  // Credentials over http would cross the network in the clear: only to this machine.
  if (!https && (user || password || v.SCHEMA_REGISTRY_TOKEN !== '') && !loopback(url)) {
    problems.push(
      'SCHEMA_REGISTRY_USERNAME/PASSWORD or SCHEMA_REGISTRY_TOKEN need an https SCHEMA_REGISTRY_URL (http only to a loopback address): they would be sent in the clear',
    );
  }
  return problems;
}

/**
 * The files DATABASE_URL names (libpq's sslrootcert, sslcert, sslkey) must be readable:
 * node-postgres reads them when it parses the URL, and its error would otherwise come at
 * the first query. The URL itself is never repeated (it may hold a password).
 */
function databaseProblems(v: Values): string[] {
  const url = v.DATABASE_URL;
  if (typeof url !== 'string') return [];
  let params: URLSearchParams;
  try {
    const parsed = new URL(url);
    params = parsed.searchParams;
    if (!['postgres:', 'postgresql:', 'socket:'].includes(parsed.protocol)) {
      return ['DATABASE_URL must be a postgres:// (or postgresql://) URL'];
    }
  } catch {
    // A socket folder (node-postgres reads a path as the host) is not a URL.
    if (url.startsWith('/')) return [];
    // A URL node-postgres would refuse with "Invalid URL" alone, naming nothing; the URL
    // is not repeated (it may hold a password). Other forms (a socket path) it reads itself.
    return [
      'DATABASE_URL is not a valid postgres:// URL (check its port, and that its password is URL-encoded)',
    ];
  }
  return ['sslrootcert', 'sslcert', 'sslkey'].flatMap((name) => {
    const file = params.get(name);
    if (file === null || file === '' || file === 'system') return [];
    const problem = readableFileProblem(`DATABASE_URL's ${name}`, file);
    return problem ? [problem] : [];
  });
}

/**
 * A token list that holds only commas and spaces would turn authentication off as an empty
 * one does: refused, since it is set, and so meant to hold tokens.
 */
function tokenListProblems(v: Values): string[] {
  return ['API_TOKENS', 'QUERY_API_TOKENS'].flatMap((name) => {
    const value = v[name];
    if (typeof value !== 'string' || value === '') return [];
    return value.split(',').some((t) => t.trim() !== '')
      ? []
      : [
          `${name} holds no token, only commas and spaces (leave it unset to turn authentication off)`,
        ];
  });
}

export function crossFieldProblems(values: Values): string[] {
  return [
    ...kafkaProblems(values),
    ...registryProblems(values),
    ...databaseProblems(values),
    ...tokenListProblems(values),
  ];
}
