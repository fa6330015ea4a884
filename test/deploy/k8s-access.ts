import { configFields, deadLetterTopic } from '@catchall/core';
import { consumerConfigFields } from '@catchall/consumer';
import { configOf } from '../support/service-config';
import { imageContainers, type ImageContainer, type Resource } from './k8s-manifests';

interface Listener {
  name: string;
  port: number;
  tls: boolean;
  authentication?: { type: string };
}
interface KafkaSpec {
  kafka: { listeners: Listener[]; authorization?: { type: string } };
  entityOperator?: { userOperator?: unknown };
}
interface Acl {
  resource: { type: string; name?: string; patternType?: string };
  operations: string[];
  type?: string;
}
interface KafkaUserSpec {
  authentication?: { type: string };
  authorization?: { type: string; acls: Acl[] };
}

/** A user's ACLs, one `type:pattern:name Operation` line per operation allowed, sorted. */
function aclLines(spec: KafkaUserSpec): string[] {
  return (spec.authorization?.acls ?? [])
    .filter((acl) => (acl.type ?? 'allow') === 'allow')
    .flatMap((acl) => {
      const { type, name, patternType } = acl.resource;
      return acl.operations.map((op) => `${type}:${patternType ?? 'literal'}:${name} ${op}`);
    })
    .sort();
}

const lines = (resource: string, ...operations: string[]) =>
  operations.map((op) => `${resource} ${op}`);

/**
 * What each program does on Kafka, from the topic, group and client id it is configured
 * with: the ACLs its user needs, no more. The ingest API's transactional ids and the
 * rebuild's groups are named as producer-api/src/service.ts and consumer/src/rebuild.ts
 * name them.
 */
export function neededAcls(c: ImageContainer): string[] {
  const topic = c.values.EVENTS_TOPIC ?? configFields.EVENTS_TOPIC.default;
  const clientId = c.values.KAFKA_CLIENT_ID ?? configFields.KAFKA_CLIENT_ID.default;
  const group = c.values.CONSUMER_GROUP ?? consumerConfigFields.CONSUMER_GROUP.default;
  const dlq = deadLetterTopic(topic);
  const needed: Record<string, string[]> = {
    'producer-api': [
      ...lines(`topic:literal:${topic}`, 'Write', 'Describe', 'DescribeConfigs'),
      ...lines(`transactionalId:prefix:${clientId}-producer-api-`, 'Write', 'Describe'),
    ],
    consumer: [
      ...lines(`topic:literal:${topic}`, 'Read', 'Describe'),
      ...lines(`group:literal:${group}`, 'Read'),
      ...lines(`topic:literal:${dlq}`, 'Write', 'Describe'),
      // The replay command, run in a projector pod.
      ...lines(`group:prefix:${group}-rebuild-v`, 'Read', 'Delete'),
    ],
    setup: [
      ...lines(`topic:literal:${topic}`, 'Create', 'Describe'),
      ...lines(`topic:literal:${dlq}`, 'Create', 'Describe'),
    ],
  };
  return (needed[c.program] ?? []).sort();
}

/**
 * Why the overlay's Kafka access is not as README "Connecting to a secured cluster" says:
 * with an authenticated listener, every listener authenticates, ACLs are on, and each
 * program (and KEDA) connects over TLS with SCRAM-SHA-512 as its own user, reading the
 * password and the cluster CA from the Secrets Strimzi writes, allowed exactly what it does.
 * Empty when all holds, or when no listener authenticates and no KafkaUser exists.
 */
export function kafkaAccessProblems(resources: Resource[]): string[] {
  const kafka = resources.find((r) => r.kind === 'Kafka')!;
  const cluster = kafka.metadata.name;
  const spec = kafka.spec as unknown as KafkaSpec;
  const users = resources.filter((r) => r.kind === 'KafkaUser');
  const authenticated = spec.kafka.listeners.filter((l) => l.authentication);
  if (authenticated.length === 0) {
    return users.map((u) => `KafkaUser ${u.metadata.name} with no authenticated listener`);
  }
  const problems: string[] = [];
  for (const l of spec.kafka.listeners) {
    if (!l.tls || l.authentication?.type !== 'scram-sha-512') {
      problems.push(`listener ${l.name} is not TLS with SCRAM-SHA-512`);
    }
  }
  if (spec.kafka.authorization?.type !== 'simple') problems.push('Kafka has no ACL authorizer');
  if (!spec.entityOperator?.userOperator) problems.push('no User Operator for the KafkaUsers');
  const bootstraps = authenticated.map((l) => `${cluster}-kafka-bootstrap:${l.port}`);
  const caSecret = `${cluster}-cluster-ca-cert`;
  const userFor = (name: string | undefined, who: string) => {
    const user = users.find((u) => u.metadata.name === name);
    if (!user) problems.push(`${who}: no KafkaUser ${name}`);
    else if (user.metadata.labels?.['strimzi.io/cluster'] !== cluster) {
      problems.push(`${who}: KafkaUser ${name} is not of cluster ${cluster}`);
    } else if ((user.spec as KafkaUserSpec).authentication?.type !== 'scram-sha-512') {
      problems.push(`${who}: KafkaUser ${name} has no SCRAM-SHA-512 credentials`);
    }
    return user;
  };
  const compare = (who: string, user: Resource, needed: string[]) => {
    const allowed = aclLines(user.spec as KafkaUserSpec);
    if (JSON.stringify(allowed) !== JSON.stringify(needed)) {
      problems.push(
        `${who}: KafkaUser ${user.metadata.name} allows [${allowed.join(', ')}], needs [${needed.join(', ')}]`,
      );
    }
  };
  const usedBy = new Map<string, string>();
  for (const c of imageContainers(resources)) {
    const v = c.values;
    if (neededAcls(c).length === 0) continue;
    const who = c.workload;
    if (v.KAFKA_SECURITY_PROTOCOL !== 'SASL_SSL' || v.KAFKA_SASL_MECHANISM !== 'SCRAM-SHA-512') {
      problems.push(`${who}: not SASL_SSL with SCRAM-SHA-512`);
    }
    if (!bootstraps.includes(v.KAFKA_BROKERS ?? '')) {
      problems.push(`${who}: KAFKA_BROKERS ${v.KAFKA_BROKERS} is not ${bootstraps.join(' or ')}`);
    }
    const ca = c.files.get(v.KAFKA_SSL_CA_FILE ?? '');
    if (ca?.kind !== 'Secret' || ca.name !== caSecret || ca.key !== 'ca.crt') {
      problems.push(`${who}: KAFKA_SSL_CA_FILE is not ${caSecret}'s ca.crt`);
    }
    const user = userFor(v.KAFKA_SASL_USERNAME, who);
    if (!user) continue;
    const name = user.metadata.name;
    const password = c.files.get(v.KAFKA_SASL_PASSWORD_FILE ?? '');
    if (password?.kind !== 'Secret' || password.name !== name || password.key !== 'password') {
      problems.push(`${who}: KAFKA_SASL_PASSWORD_FILE is not the password of ${name}`);
    }
    const other = usedBy.get(name);
    if (other && other !== c.program) problems.push(`${who}: ${name} is ${other}'s user too`);
    usedBy.set(name, c.program);
    compare(who, user, neededAcls(c));
  }
  problems.push(...kedaProblems(resources, bootstraps, caSecret, userFor, compare));
  return problems;
}

interface Trigger {
  type: string;
  metadata: Record<string, string>;
  authenticationRef?: { name: string };
}
interface ParameterRef {
  parameter: string;
  name: string;
  key: string;
}

/** KEDA's Kafka triggers: over the same listener, as a user that may only describe. */
function kedaProblems(
  resources: Resource[],
  bootstraps: string[],
  caSecret: string,
  userFor: (name: string | undefined, who: string) => Resource | undefined,
  compare: (who: string, user: Resource, needed: string[]) => void,
): string[] {
  const problems: string[] = [];
  for (const scaler of resources.filter((r) => r.kind === 'ScaledObject')) {
    const triggers = (scaler.spec as { triggers: Trigger[] }).triggers;
    for (const t of triggers.filter((t) => t.type === 'kafka')) {
      const who = `ScaledObject ${scaler.metadata.name}`;
      const m = t.metadata;
      // KEDA's operator runs in its own namespace: the service's name must say which one.
      const qualified = bootstraps.map((b) => b.replace(':', `.${scaler.metadata.namespace}.svc:`));
      if (!qualified.includes(m.bootstrapServers ?? '') || m.tls !== 'enable') {
        problems.push(`${who}: not over TLS to ${qualified.join(' or ')}`);
      }
      if (m.sasl !== 'scram_sha512') problems.push(`${who}: not SCRAM-SHA-512`);
      const auth = resources.find(
        (r) => r.kind === 'TriggerAuthentication' && r.metadata.name === t.authenticationRef?.name,
      );
      if (!auth) {
        problems.push(`${who}: no TriggerAuthentication`);
        continue;
      }
      const spec = auth.spec as Record<string, ParameterRef[] | undefined>;
      const ref = (kind: string, parameter: string) =>
        spec[kind]?.find((p) => p.parameter === parameter);
      const usernameRef = ref('configMapTargetRef', 'username');
      const username = resources.find(
        (r) => r.kind === 'ConfigMap' && r.metadata.name === usernameRef?.name,
      )?.data?.[usernameRef?.key ?? ''];
      const user = userFor(username, who);
      if (!user) continue;
      const password = ref('secretTargetRef', 'password');
      if (password?.name !== user.metadata.name || password.key !== 'password') {
        problems.push(`${who}: the password is not that of ${user.metadata.name}`);
      }
      const ca = ref('secretTargetRef', 'ca');
      if (ca?.name !== caSecret || ca.key !== 'ca.crt') {
        problems.push(`${who}: the CA is not ${caSecret}'s ca.crt`);
      }
      compare(who, user, [
        `group:literal:${m.consumerGroup} Describe`,
        `topic:literal:${m.topic} Describe`,
      ]);
    }
  }
  return problems;
}

/**
 * The DATABASE_URL the operator puts in the Secret catch-all-db-app (key `url`), as README
 * "Connecting to a secured cluster" shows it: the CloudNativePG read-write service, whose
 * server certificate names it, verified against the cluster's CA.
 */
export const DOCUMENTED_DATABASE_URL =
  'postgresql://catchall:<password>@catch-all-db-rw:5432/catchall?sslmode=verify-full&sslrootcert=/etc/catch-all/postgres-ca/ca.crt';

/**
 * The read-only DATABASE_URL (key `read-url` of catch-all-db-app) the query API reads with
 * components/read-replicas, as README "Read replicas" shows it: CloudNativePG's read-only
 * service, which its server certificate names too, verified against the cluster's CA.
 */
export const DOCUMENTED_READ_URL =
  'postgresql://catchall:<password>@catch-all-db-ro:5432/catchall?sslmode=verify-full&sslrootcert=/etc/catch-all/postgres-ca/ca.crt';

/** Only the query API may read from the replicas: the others write, or must see the primary. */
const READ_ONLY_PROGRAMS = new Set(['query-api']);

/** A secured overlay (production): its Kafka listener authenticates. */
export function securedOverlay(resources: Resource[]): boolean {
  const kafka = resources.find((r) => r.kind === 'Kafka')!.spec as unknown as KafkaSpec;
  return kafka.kafka.listeners.some((l) => l.authentication);
}

/**
 * Why a program's Postgres connection is not verified as documented: with an authenticated
 * Kafka listener (the secured overlays), each program using Postgres reads DATABASE_URL from
 * the operator's Secret and mounts CloudNativePG's CA where that URL's sslrootcert says.
 */
export function postgresProblems(resources: Resource[]): string[] {
  if (!securedOverlay(resources)) return [];
  const cluster = resources.find((r) => r.kind === 'Cluster')!.metadata.name;
  const url = new URL(DOCUMENTED_DATABASE_URL);
  const problems: string[] = [];
  if (url.hostname !== `${cluster}-rw` || url.searchParams.get('sslmode') !== 'verify-full') {
    problems.push(`the documented URL does not verify ${cluster}-rw`);
  }
  const readUrl = new URL(DOCUMENTED_READ_URL);
  if (
    readUrl.hostname !== `${cluster}-ro` ||
    readUrl.searchParams.get('sslmode') !== 'verify-full'
  ) {
    problems.push(`the documented read URL does not verify ${cluster}-ro`);
  }
  for (const c of imageContainers(resources)) {
    if (!('DATABASE_URL' in configOf[c.program]!)) continue;
    const file = c.files.get(c.values.DATABASE_URL_FILE ?? '');
    const keys = READ_ONLY_PROGRAMS.has(c.program) ? ['url', 'read-url'] : ['url'];
    if (file?.kind !== 'Secret' || file.name !== 'catch-all-db-app' || !keys.includes(file.key)) {
      problems.push(
        `${c.workload}: DATABASE_URL is not read from catch-all-db-app's ${keys.join(' or ')}`,
      );
    }
    const ca = c.files.get(url.searchParams.get('sslrootcert') ?? '');
    if (ca?.kind !== 'Secret' || ca.name !== `${cluster}-ca` || ca.key !== 'ca.crt') {
      problems.push(`${c.workload}: no ${cluster}-ca's ca.crt where the URL's sslrootcert says`);
    }
  }
  return problems;
}
