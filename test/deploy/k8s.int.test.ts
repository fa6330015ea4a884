import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { configFields, loadConfig } from '@catchall/core';
import { kustomizeBuild, validateManifests, type K8sTools } from '@catchall/scripts';
import { configOf, programOf } from '../support/service-config';

const ROOT = path.resolve(__dirname, '..', '..');
const K8S = path.join(ROOT, 'k8s');
const OVERLAYS = readdirSync(path.join(K8S, 'overlays')).sort();

/** kustomize and kubeconform with their schemas, prepared by the test runner (`npm test`). */
function k8sTools(): K8sTools {
  const tools = process.env.CATCHALL_TEST_K8S_TOOLS;
  if (!tools) throw new Error('The manifest checks need the tools `npm test` prepares.');
  return JSON.parse(tools) as K8sTools;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
}
interface Resource {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function parse(manifests: string): Resource[] {
  return parseAllDocuments(manifests).map((d) => d.toJS() as Resource);
}

function find(resources: Resource[], kind: string, name: string): Resource {
  const found = resources.find((r) => r.kind === kind && r.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

/** A container of the catch-all image, what it runs and the environment it is given. */
interface ImageContainer {
  workload: string;
  program: string;
  pod: PodSpec;
  container: Container;
  /** Literal values (env and ConfigMaps); variables from Secrets are in `names` only. */
  values: Record<string, string>;
  names: string[];
}

function imageContainers(resources: Resource[]): ImageContainer[] {
  const found: ImageContainer[] = [];
  for (const r of resources) {
    if (r.kind !== 'Deployment' && r.kind !== 'Job') continue;
    const pod = (r.spec as { template: { spec: PodSpec } }).template.spec;
    for (const container of pod.containers) {
      if (!/(^|\/)catch-all:/.test(container.image)) continue;
      const program = programOf[container.args?.[0] ?? ''];
      if (!program) throw new Error(`${r.metadata.name} runs ${String(container.args)}`);
      const values: Record<string, string> = {};
      const names: string[] = [];
      for (const ref of container.envFrom ?? []) {
        const data = find(resources, 'ConfigMap', ref.configMapRef!.name).data ?? {};
        Object.assign(values, data);
        names.push(...Object.keys(data));
      }
      for (const v of container.env ?? []) {
        names.push(v.name);
        if (v.value !== undefined) values[v.name] = v.value;
      }
      found.push({
        workload: `${r.kind} ${r.metadata.name}`,
        program,
        pod,
        container,
        values,
        names,
      });
    }
  }
  return found;
}

describe.each(OVERLAYS)('k8s/overlays/%s', (overlay) => {
  let resources: Resource[];
  let manifests: string;

  beforeAll(async () => {
    manifests = await kustomizeBuild(k8sTools(), path.join(K8S, 'overlays', overlay));
    resources = parse(manifests);
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

  it('gives each program only variables it reads, with values it accepts', () => {
    const containers = imageContainers(resources);
    expect(new Set(containers.map((c) => c.program))).toEqual(new Set(Object.keys(configOf)));
    for (const c of containers) {
      const fields = configOf[c.program]!;
      expect({ [c.workload]: c.names.filter((n) => !(n in fields)) }).toEqual({ [c.workload]: [] });
      expect(() => loadConfig(fields, c.values)).not.toThrow();
    }
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

  it('fail on a broken copy: a misspelt field, a wrong type in a CRD resource', async () => {
    breakFile('base/consumer.yaml', 'maxUnavailable: 1', 'maxUnavailabel: 1');
    breakFile('base/kafka.yaml', 'partitions: 12', 'partitions: twelve');
    breakFile('base/postgres.yaml', 'instances: 3', 'instances: three');
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
      'Cluster catch-all-db',
      'KafkaTopic domain-events',
      'PodDisruptionBudget consumer',
    ]);
    const messages = report.resources.map((r) => r.msg).join('\n');
    expect(messages).toMatch(/maxUnavailabel/);
    expect(messages).toMatch(/partitions/);
  });

  it('fail on a kustomization that names a missing file', async () => {
    rmSync(path.join(dir, 'base', 'registry.yaml'));
    await expect(kustomizeBuild(k8sTools(), path.join(dir, 'overlays', 'local'))).rejects.toThrow(
      /registry\.yaml/,
    );
  });
});
