import { parseAllDocuments } from 'yaml';
import { programOf } from '../support/service-config';

/** What the checks read of the built manifests. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
export interface Probe {
  httpGet?: { path: string; port: number | string; scheme?: 'HTTP' | 'HTTPS' };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean };
}
interface KeyItem {
  key: string;
  path: string;
}
export interface Volume {
  name: string;
  emptyDir?: Record<string, unknown>;
  secret?: { secretName: string; items?: KeyItem[] };
  configMap?: { name: string; items?: KeyItem[] };
}
export interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean };
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
}
export interface Resource {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

export function parseManifests(manifests: string): Resource[] {
  return parseAllDocuments(manifests).map((d) => d.toJS() as Resource);
}

export function find(resources: Resource[], kind: string, name: string): Resource {
  const found = resources.find((r) => r.kind === kind && r.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

/** A file a container sees: which Secret or ConfigMap key it is. */
export interface MountedFile {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  key: string;
}

/** A container of the catch-all image, what it runs and the environment it is given. */
export interface ImageContainer {
  workload: string;
  program: string;
  pod: PodSpec;
  container: Container;
  /** Literal values (env and ConfigMaps); variables from Secrets are in `fromSecrets`. */
  values: Record<string, string>;
  names: string[];
  /** Variables set from a Secret key (`valueFrom.secretKeyRef`), by name. */
  fromSecrets: Map<string, MountedFile>;
  /** The files of the Secret and ConfigMap volumes it mounts, by path (listed keys only). */
  files: Map<string, MountedFile>;
}

/** The files of the Secret and ConfigMap volumes a container mounts, by path. */
export function mountedFiles(pod: PodSpec, container: Container): Map<string, MountedFile> {
  const files = new Map<string, MountedFile>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const source = volume?.secret
      ? { kind: 'Secret' as const, name: volume.secret.secretName, items: volume.secret.items }
      : volume?.configMap
        ? { kind: 'ConfigMap' as const, name: volume.configMap.name, items: volume.configMap.items }
        : undefined;
    // Only keys listed by `items` are known without the cluster; the manifests list them.
    for (const item of source?.items ?? []) {
      files.set(path(mount.mountPath, item.path), {
        kind: source!.kind,
        name: source!.name,
        key: item.key,
      });
    }
  }
  return files;
}

const path = (dir: string, file: string) => `${dir.replace(/\/$/, '')}/${file}`;

export function imageContainers(resources: Resource[]): ImageContainer[] {
  const found: ImageContainer[] = [];
  for (const r of resources) {
    if (r.kind !== 'Deployment' && r.kind !== 'Job') continue;
    const pod = (r.spec as { template: { spec: PodSpec } }).template.spec;
    for (const container of pod.containers) {
      if (!/(^|\/)catch-all:/.test(container.image)) continue;
      // node's own options come before the script it runs.
      const program = programOf[container.args?.find((a) => !a.startsWith('-')) ?? ''];
      if (!program) throw new Error(`${r.metadata.name} runs ${String(container.args)}`);
      const values: Record<string, string> = {};
      const names: string[] = [];
      const fromSecrets = new Map<string, MountedFile>();
      for (const ref of container.envFrom ?? []) {
        const data = find(resources, 'ConfigMap', ref.configMapRef!.name).data ?? {};
        Object.assign(values, data);
        names.push(...Object.keys(data));
      }
      for (const v of container.env ?? []) {
        names.push(v.name);
        if (v.value !== undefined) values[v.name] = v.value;
        const ref = v.valueFrom?.secretKeyRef;
        if (ref) fromSecrets.set(v.name, { kind: 'Secret', name: ref.name, key: ref.key });
      }
      found.push({
        workload: `${r.kind} ${r.metadata.name}`,
        program,
        pod,
        container,
        values,
        names,
        fromSecrets,
        files: mountedFiles(pod, container),
      });
    }
  }
  return found;
}
