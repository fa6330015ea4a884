import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configFields, loadConfig } from '@catchall/core';
import { kustomizeBuild, validateManifests, type K8sTools } from '@catchall/scripts';
import { configOf } from '../support/service-config';
import { variableSet } from './config-names';
import {
  DOCUMENTED_DATABASE_URL,
  DOCUMENTED_READ_URL,
  kafkaAccessProblems,
  postgresProblems,
} from './k8s-access';
import { scrapeProblems } from './k8s-monitoring';
import { registryProblems } from './k8s-registry';
import {
  find,
  imageContainers,
  parseManifests,
  type ImageContainer,
  type MountedFile,
  type Resource,
} from './k8s-manifests';

const ROOT = path.resolve(__dirname, '..', '..');
const K8S = path.join(ROOT, 'k8s');
const OVERLAYS = readdirSync(path.join(K8S, 'overlays')).sort();

/** kustomize and kubeconform with their schemas, prepared by the test runner (`npm test`). */
function k8sTools(): K8sTools {
  const tools = process.env.CATCHALL_TEST_K8S_TOOLS;
  if (!tools) throw new Error('The manifest checks need the tools `npm test` prepares.');
  return JSON.parse(tools) as K8sTools;
}

/** A self-signed certificate (PEM) for the CA files a pod mounts, made once by openssl. */
let exampleCertificate: string | undefined;
function certificate(): string {
  exampleCertificate ??= execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      os.devNull,
      '-subj',
      '/CN=example',
      '-days',
      '1',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  ).trim();
  return exampleCertificate;
}

/**
 * Example content of a Secret or ConfigMap key: a certificate for a `.crt` key, for the
 * operator's DATABASE_URL the documented one (`url`, `read-url`) or the one CloudNativePG
 * writes (`uri`).
 */
function exampleContent(source: MountedFile): string {
  if (source.name === 'catch-all-db-app' && source.key === 'url') {
    return DOCUMENTED_DATABASE_URL.replace('<password>', 'example');
  }
  if (source.name === 'catch-all-db-app' && source.key === 'read-url') {
    return DOCUMENTED_READ_URL.replace('<password>', 'example');
  }
  if (source.name === 'catch-all-db-app' && source.key === 'uri') {
    return 'postgresql://catchall:example@catch-all-db-rw:5432/catchall';
  }
  return source.key.endsWith('.crt') ? certificate() : `example ${source.key}`;
}

/**
 * A container's environment as its program would read it in the pod: each mounted Secret or
 * ConfigMap key a file under `root`, each variable from a Secret key that key's example
 * content, and every path into a mount moved under `root` too.
 */
function podEnvironment(c: ImageContainer, root: string): Record<string, string> {
  const files = [...c.files.keys()].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(
    files.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
    'g',
  );
  const moved = (text: string) =>
    files.length === 0 ? text : text.replace(pattern, (file) => path.join(root, file));
  for (const [file, source] of c.files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), `${moved(exampleContent(source))}\n`);
  }
  const fromSecrets = [...c.fromSecrets].map(([name, source]): [string, string] => [
    name,
    exampleContent(source),
  ]);
  return Object.fromEntries(
    [...Object.entries(c.values), ...fromSecrets].map(([k, v]) => [k, moved(v)]),
  );
}

describe.each(OVERLAYS)('k8s/overlays/%s', (overlay) => {
  let resources: Resource[];
  let manifests: string;

  beforeAll(async () => {
    manifests = await kustomizeBuild(k8sTools(), path.join(K8S, 'overlays', overlay));
    resources = parseManifests(manifests);
  });

  it('is valid against the Kubernetes API schemas and the CRD schemas it uses', async () => {
    const report = await validateManifests(k8sTools(), manifests);
    const problems = report.resources.filter((r) => r.status !== 'statusValid');
    expect(problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.summary.valid).toBe(resources.length);
    const kinds = new Set(resources.map((r) => r.kind));
    for (const kind of ['Deployment', 'Kafka', 'KafkaTopic', 'Cluster', 'NetworkPolicy', 'Job']) {
      expect(kinds).toContain(kind);
    }
  });

  it('puts every resource in the one namespace of the overlay', () => {
    const namespaces = new Set(
      resources.filter((r) => r.kind !== 'Namespace').map((r) => r.metadata.namespace),
    );
    expect([...namespaces]).toEqual(['catch-all']);
  });

  it('gives each program only variables it reads, with values it accepts', () => {
    const containers = imageContainers(resources);
    expect(new Set(containers.map((c) => c.program))).toEqual(new Set(Object.keys(configOf)));
    const root = mkdtempSync(path.join(os.tmpdir(), 'pod-'));
    try {
      for (const c of containers) {
        const fields = configOf[c.program]!;
        const unread = c.names.filter((n) => !variableSet(fields, n));
        expect({ [c.workload]: unread }).toEqual({ [c.workload]: [] });
        const env = podEnvironment(c, path.join(root, c.workload.replace(/\W/g, '-')));
        expect(() => loadConfig(fields, env)).not.toThrow();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('gives every file a variable names from a Secret or ConfigMap key the pod mounts', () => {
    for (const c of imageContainers(resources)) {
      const missing = Object.entries(c.values)
        .filter(([name, value]) => name.endsWith('_FILE') && !c.files.has(value))
        .map(([name, value]) => `${name}=${value}`);
      expect({ [c.workload]: missing }).toEqual({ [c.workload]: [] });
    }
  });

  it('connects each program to Kafka as its own user, allowed only what it does', () => {
    expect(kafkaAccessProblems(resources)).toEqual([]);
    const users = resources.filter((r) => r.kind === 'KafkaUser').length;
    if (overlay.startsWith('production')) expect(users).toBeGreaterThanOrEqual(3);
    else expect(users).toBe(0);
  });

  it('verifies the Postgres server of every program that connects to it, in production', () => {
    expect(postgresProblems(resources)).toEqual([]);
  });

  it('reaches the schema registry only through its proxy, over verified TLS, with credentials, in production', () => {
    expect(registryProblems(resources)).toEqual([]);
    const registry = find(resources, 'Deployment', 'registry').spec as {
      template: { spec: { containers: { name: string }[] } };
    };
    const containers = registry.template.spec.containers.map((c) => c.name);
    if (overlay.startsWith('production')) expect(containers).toContain('registry-proxy');
    else expect(containers).toEqual(['registry']);
  });

  it('never runs more projector members than the events topic has partitions', () => {
    const containers = imageContainers(resources);
    const consumer = containers.find((c) => c.program === 'consumer')!;
    const setup = containers.find((c) => c.program === 'setup')!;
    const topicName = consumer.values.EVENTS_TOPIC ?? configFields.EVENTS_TOPIC.default;
    const topic = find(resources, 'KafkaTopic', topicName).spec as {
      partitions: number;
      replicas: number;
    };
    const deployment = find(resources, 'Deployment', 'consumer').spec as { replicas?: number };
    const scaler = resources.find((r) => r.kind === 'ScaledObject');
    if (scaler) {
      const spec = scaler.spec as {
        maxReplicaCount: number;
        triggers: { metadata: Record<string, string> }[];
      };
      expect(deployment.replicas).toBeUndefined();
      expect(spec.maxReplicaCount).toBeLessThanOrEqual(topic.partitions);
      expect(spec.triggers[0]!.metadata).toMatchObject({
        topic: topicName,
        consumerGroup: consumer.values.CONSUMER_GROUP,
        allowIdleConsumers: 'false',
      });
    } else {
      expect(deployment.replicas).toBeLessThanOrEqual(topic.partitions);
    }
    // Every program agrees on the topic, and setup would create it as the KafkaTopic does.
    for (const c of containers.filter((c) => 'EVENTS_TOPIC' in configOf[c.program]!)) {
      expect({ [c.workload]: c.values.EVENTS_TOPIC }).toEqual({ [c.workload]: topicName });
    }
    expect(Number(setup.values.EVENTS_TOPIC_PARTITIONS)).toBe(topic.partitions);
    expect(Number(setup.values.EVENTS_TOPIC_REPLICATION)).toBe(topic.replicas);
  });

  it('has the Prometheus Operator scrape each service once, at its metrics port, keeping the service label the alerts select', () => {
    expect(scrapeProblems(resources)).toEqual([]);
    const kinds = resources.map((r) => r.kind);
    if (kinds.includes('PrometheusRule')) expect(kinds).toContain('ServiceMonitor');
    if (overlay.startsWith('production')) expect(kinds).toContain('PrometheusRule');
  });

  it('gives every service probes, resources and time for its graceful shutdown', () => {
    for (const c of imageContainers(resources)) {
      const { container, pod } = c;
      expect({ [c.workload]: container.resources }).toEqual({
        [c.workload]: {
          requests: { cpu: expect.any(String), memory: expect.any(String) },
          limits: { cpu: expect.any(String), memory: expect.any(String) },
        },
      });
      if (c.program === 'setup') continue;
      expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
      const shutdownMs = Number(
        c.values.SHUTDOWN_TIMEOUT_MS ?? configFields.SHUTDOWN_TIMEOUT_MS.default,
      );
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + shutdownMs / 1000);
    }
  });
});

describe('the manifest checks', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'k8s-'));
    cpSync(K8S, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function breakFile(file: string, from: string, to: string): void {
    const full = path.join(dir, file);
    const text = readFileSync(full, 'utf8');
    expect(text).toContain(from);
    writeFileSync(full, text.replace(from, to));
  }

  it('fail on a broken copy: misspelt fields, a wrong type in a CRD resource', async () => {
    breakFile('base/consumer.yaml', 'maxUnavailable: 1', 'maxUnavailabel: 1');
    breakFile('base/kafka.yaml', 'partitions: 12', 'partitions: twelve');
    breakFile('base/postgres.yaml', 'instances: 3', 'instances: three');
    breakFile(
      'components/secured-connections/registry-proxy/certificates.yaml',
      '  dnsNames:',
      '  dnsName:',
    );
    const tools = k8sTools();
    const report = await validateManifests(
      tools,
      await kustomizeBuild(tools, path.join(dir, 'overlays', 'production')),
    );
    expect(report.ok).toBe(false);
    const invalid = report.resources
      .filter((r) => r.status === 'statusInvalid')
      .map((r) => `${r.kind} ${r.name}`);
    expect(invalid.sort()).toEqual([
      'Certificate registry-tls',
      'Cluster catch-all-db',
      'KafkaTopic domain-events',
      'PodDisruptionBudget consumer',
    ]);
    const messages = report.resources.map((r) => r.msg).join('\n');
    expect(messages).toMatch(/maxUnavailabel/);
    expect(messages).toMatch(/partitions/);
    expect(messages).toMatch(/dnsName/);
  });

  it("fail on a broken copy: an ACL too many, another user's password, a plain database URL", async () => {
    const secured = 'components/secured-connections';
    breakFile(`${secured}/kafka-users.yaml`, '[Create, Describe]', '[Create, Describe, Alter]');
    breakFile(
      `${secured}/mounts.yaml`,
      'secretName: catch-all-ingest',
      'secretName: catch-all-setup',
    );
    breakFile(
      `${secured}/config/query-api.env`,
      'DATABASE_URL_FILE=',
      'IGNORED_DATABASE_URL_FILE=',
    );
    breakFile(
      'components/keda-autoscaling/scaled-object.yaml',
      'sasl: scram_sha512',
      'sasl: plaintext',
    );
    const resources = parseManifests(
      await kustomizeBuild(k8sTools(), path.join(dir, 'overlays', 'production-keda')),
    );
    expect(kafkaAccessProblems(resources)).toEqual([
      'Deployment producer-api: KAFKA_SASL_PASSWORD_FILE is not the password of catch-all-ingest',
      expect.stringMatching(
        /^Job setup: KafkaUser catch-all-setup allows \[.*topic:literal:domain-events Alter.*\], needs/,
      ),
      'ScaledObject consumer: not SCRAM-SHA-512',
    ]);
    expect(postgresProblems(resources)).toEqual([
      "Deployment query-api: DATABASE_URL is not read from catch-all-db-app's url or read-url",
    ]);
  });

  it('fail on a broken copy: the projector reading from the read replicas', async () => {
    breakFile(
      'components/read-replicas/query-api-database.yaml',
      'name: query-api',
      'name: consumer',
    );
    const resources = parseManifests(
      await kustomizeBuild(k8sTools(), path.join(dir, 'overlays', 'production-read-replicas')),
    );
    expect(postgresProblems(resources)).toEqual([
      "Deployment consumer: DATABASE_URL is not read from catch-all-db-app's url",
    ]);
  });

  it('fail on a broken copy: a program without registry credentials, a way around the proxy', async () => {
    const secured = 'components/secured-connections';
    breakFile(
      `${secured}/config/consumer.env`,
      'SCHEMA_REGISTRY_PASSWORD_FILE=',
      'IGNORED_SCHEMA_REGISTRY_PASSWORD_FILE=',
    );
    breakFile(
      `${secured}/registry-credentials.yaml`,
      'name: SCHEMA_REGISTRY_USERNAME',
      'name: IGNORED_SCHEMA_REGISTRY_USERNAME',
    );
    breakFile('base/registry.yaml', 'targetPort: http', 'targetPort: 8081');
    breakFile(
      'base/network-policies.yaml',
      'values: [producer-api, consumer] }\n      ports:\n        - { port: http }',
      'values: [producer-api, consumer] }\n      ports:\n        - { port: management }',
    );
    breakFile(`${secured}/registry-proxy/deployment.yaml`, 'value: 127.0.0.1', 'value: 0.0.0.0');
    breakFile(
      `${secured}/registry-proxy/nginx.conf`,
      'return 200 "ok\\n";',
      'proxy_pass http://127.0.0.1:8081;',
    );
    const resources = parseManifests(
      await kustomizeBuild(k8sTools(), path.join(dir, 'overlays', 'production')),
    );
    expect(registryProblems(resources)).toEqual([
      'Deployment registry: Apicurio listens beyond loopback (QUARKUS_HTTP_HOST)',
      'registry proxy: location = /proxy-health passes to Apicurio without auth',
      'Service registry port 8080: reaches port 8081, not the proxy',
      'NetworkPolicy registry: reaches registry, not the proxy',
      "Deployment consumer: SCHEMA_REGISTRY_PASSWORD_FILE is not catch-all-registry-credentials's password",
      "Deployment producer-api: SCHEMA_REGISTRY_USERNAME is not catch-all-registry-credentials's username",
    ]);
  });

  it('fail on a broken copy: an http registry URL, a plain proxy, a CA or a name the certificate lacks', async () => {
    const secured = 'components/secured-connections';
    breakFile(`${secured}/config/consumer.env`, 'URL=https://', 'URL=http://');
    breakFile(
      `${secured}/config/producer-api.env`,
      'URL=https://registry:',
      'URL=https://registry.catch-all.svc:',
    );
    breakFile(`${secured}/registry-proxy/certificates.yaml`, '    - registry.catch-all.svc\n', '');
    breakFile(
      `${secured}/mounts.yaml`,
      'secretName: catch-all-registry-tls',
      'secretName: catch-all-cluster-ca-cert',
    );
    breakFile(`${secured}/registry-proxy/nginx.conf`, 'listen 8080 ssl;', 'listen 8080;');
    const resources = parseManifests(
      await kustomizeBuild(k8sTools(), path.join(dir, 'overlays', 'production')),
    );
    expect(registryProblems(resources)).toEqual([
      'registry proxy: the probe of /proxy-health speaks HTTPS to a plain port',
      'registry proxy: the probe of /proxy-health speaks HTTPS to a plain port',
      'Service registry port 8080: reaches the proxy without TLS',
      'NetworkPolicy registry: reaches the proxy without TLS',
      'Certificate registry-tls: does not name registry.catch-all.svc',
      'Deployment consumer: SCHEMA_REGISTRY_URL is not https',
      "Deployment producer-api: the registry's certificate does not name registry.catch-all.svc",
      "Deployment producer-api: SCHEMA_REGISTRY_CA_FILE is not catch-all-registry-tls's ca.crt",
    ]);
  });

  it('fail on a broken copy: a monitor on the wrong port, one replacing the service label, one giving its targets another, a second monitor', async () => {
    const monitor = 'components/monitoring/service-monitor.yaml';
    const tools = k8sTools();
    const build = async () =>
      scrapeProblems(
        parseManifests(await kustomizeBuild(tools, path.join(dir, 'overlays', 'production'))),
      );
    breakFile(monitor, '- port: http', '- targetPort: 3000');
    const wrongPort = await build();
    expect(wrongPort).toContain(
      'Deployment consumer: ServiceMonitor catch-all via Service consumer scrapes port 3000, not 3002',
    );
    expect(wrongPort).toHaveLength(2);

    cpSync(K8S, dir, { recursive: true });
    breakFile(monitor, 'honorLabels: true', 'honorLabels: false');
    breakFile(monitor, 'sourceLabels: [exported_service]', 'sourceLabels: [exported_job]');
    const relabelled = await build();
    expect(relabelled).toContain(
      "Deployment query-api: ServiceMonitor catch-all via Service query-api replaces the series' own service label",
    );
    expect(relabelled).toHaveLength(3);

    cpSync(K8S, dir, { recursive: true });
    breakFile(
      monitor,
      '[__meta_kubernetes_service_label_app_kubernetes_io_name]',
      '[__meta_kubernetes_namespace]',
    );
    const targetsRelabelled = await build();
    expect(targetsRelabelled).toContain(
      'Deployment consumer: ServiceMonitor catch-all via Service consumer gives its targets (up) service="", not "consumer"',
    );
    expect(targetsRelabelled).toHaveLength(3);

    cpSync(K8S, dir, { recursive: true });
    const copy = readFileSync(path.join(dir, monitor), 'utf8').replace(
      'name: catch-all',
      'name: catch-all-again',
    );
    writeFileSync(
      path.join(dir, monitor),
      `${readFileSync(path.join(dir, monitor), 'utf8')}---\n${copy}`,
    );
    const twice = await build();
    expect(twice).toHaveLength(3);
    expect(twice[0]).toMatch(/^Deployment \S+: scraped 2 times/);

    cpSync(K8S, dir, { recursive: true });
    breakFile('components/monitoring/kustomization.yaml', '  - service-monitor.yaml\n', '');
    const none = await build();
    expect(none).toContain('Deployment producer-api: scraped 0 times ()');
    expect(none).toContain(
      'the alerts or the dashboard select service="consumer", which nothing scraped sets',
    );
  });

  it('fail on a kustomization that names a missing file', async () => {
    rmSync(path.join(dir, 'base', 'registry.yaml'));
    await expect(kustomizeBuild(k8sTools(), path.join(dir, 'overlays', 'local'))).rejects.toThrow(
      /registry\.yaml/,
    );
  });
});
