import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

type SchemaRegistryAPIClientArgs = ConstructorParameters<typeof SchemaRegistry>[0];

/**
 * How the programs authenticate to the schema registry and which CA they trust for it: HTTP
 * basic authentication or a bearer token (not both), and a PEM CA bundle for an https URL
 * (Node's default CAs when absent). Used the same way by the client library (lookups,
 * encoding, decoding) and by the REST calls of registry.ts (registration).
 */
export interface RegistryAuth {
  username?: string;
  password?: string;
  token?: string;
  ca?: string;
}

/** The registry settings as loaded (core's registryConnectionFields). */
export interface RegistryConnectionSettings {
  SCHEMA_REGISTRY_URL: string;
  SCHEMA_REGISTRY_USERNAME: string;
  SCHEMA_REGISTRY_PASSWORD: string;
  SCHEMA_REGISTRY_TOKEN: string;
  SCHEMA_REGISTRY_CA_FILE: string;
}

/**
 * The registry URL and authentication of a loaded configuration, the one place that turns
 * the settings into options: `createEventDecoder({ ...registryConnection(config), ... })`.
 * The CA file is read here, once.
 */
export function registryConnection(config: RegistryConnectionSettings): {
  registryUrl: string;
  registryAuth: RegistryAuth;
} {
  const auth: RegistryAuth = {};
  if (config.SCHEMA_REGISTRY_USERNAME !== '') {
    auth.username = config.SCHEMA_REGISTRY_USERNAME;
    auth.password = config.SCHEMA_REGISTRY_PASSWORD;
  }
  if (config.SCHEMA_REGISTRY_TOKEN !== '') auth.token = config.SCHEMA_REGISTRY_TOKEN;
  if (config.SCHEMA_REGISTRY_CA_FILE !== '') {
    auth.ca = readFileSync(config.SCHEMA_REGISTRY_CA_FILE, 'utf8');
  }
  return { registryUrl: config.SCHEMA_REGISTRY_URL, registryAuth: auth };
}

/** One agent per CA bundle: TLS sessions and sockets are shared by the clients made again. */
const agents = new Map<string, https.Agent>();

function agentFor(url: string, auth: RegistryAuth | undefined): https.Agent | undefined {
  if (!auth?.ca || !url.startsWith('https:')) return undefined;
  let agent = agents.get(auth.ca);
  if (!agent) {
    agent = new https.Agent({ ca: auth.ca, keepAlive: true });
    agents.set(auth.ca, agent);
  }
  return agent;
}

/** The Authorization header value for `auth`, if it authenticates at all. */
export function authorization(auth: RegistryAuth | undefined): string | undefined {
  if (auth?.token) return `Bearer ${auth.token}`;
  if (auth?.username !== undefined) {
    const pair = `${auth.username}:${auth.password ?? ''}`;
    return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
  }
  return undefined;
}

/**
 * The arguments of @kafkajs/confluent-schema-registry's client: basic authentication through
 * its `auth` option, a bearer token through a mappersmith middleware that sets the header,
 * and the CA through an https `agent` (mappersmith's Node gateway passes it to the request).
 */
export function registryClientArgs(
  registryUrl: string,
  auth: RegistryAuth | undefined,
): SchemaRegistryAPIClientArgs {
  const agent = agentFor(registryUrl, auth);
  const token = auth?.token;
  return {
    host: registryUrl,
    ...(auth?.username !== undefined
      ? { auth: { username: auth.username, password: auth.password ?? '' } }
      : {}),
    ...(agent ? { agent } : {}),
    ...(token
      ? {
          middlewares: [
            () => ({
              prepareRequest: (next) =>
                next().then((request) =>
                  request.enhance({ headers: { authorization: `Bearer ${token}` } }),
                ),
            }),
          ],
        }
      : {}),
  };
}

/** An answer of the registry: its status and body text. */
export interface RegistryAnswer {
  status: number;
  text: string;
}

/**
 * One HTTP request to the registry with its authentication and CA, answered within
 * `timeoutMs`. Rejects on a failed connection or TLS handshake (the error's `code` says
 * which: ECONNREFUSED, SELF_SIGNED_CERT_IN_CHAIN, ...) and on the timeout.
 */
export function registryRequest(
  url: string,
  auth: RegistryAuth | undefined,
  init: { method: string; body?: string; headers?: Record<string, string>; timeoutMs: number },
): Promise<RegistryAnswer> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const header = authorization(auth);
  const headers: Record<string, string> = {
    ...init.headers,
    ...(header ? { authorization: header } : {}),
    ...(init.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(init.body)) }),
  };
  const agent = agentFor(url, auth);
  return new Promise((resolve, reject) => {
    const request = client.request(
      target,
      {
        method: init.method,
        headers,
        ...(agent ? { agent } : {}),
        signal: AbortSignal.timeout(init.timeoutMs),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(init.body);
  });
}
