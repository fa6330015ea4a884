import { configFields } from '@catchall/core';
import { configOf } from '../support/service-config';
import { securedOverlay } from './k8s-access';
import {
  find,
  imageContainers,
  mountedFiles,
  type Container,
  type PodSpec,
  type Probe,
  type Resource,
} from './k8s-manifests';
import { certificateProblems, serviceNames } from './k8s-registry-tls';

/** The Secret the operator creates for the registry's proxy and its clients. */
export const REGISTRY_CREDENTIALS = 'catch-all-registry-credentials';

interface ServicePort {
  port: number;
  targetPort?: number | string;
}
interface PolicyRule {
  ports?: { port?: number | string }[];
}

const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

/** The container of a pod a port (number or name) belongs to, and its number. */
function portOf(pod: PodSpec, port: number | string): { container?: Container; number?: number } {
  for (const container of pod.containers) {
    const found = container.ports?.find((p) => p.name === port || p.containerPort === port);
    if (found) return { container, number: found.containerPort };
  }
  return { number: typeof port === 'number' ? port : undefined };
}

/** nginx's configuration without comments, and its `location` blocks (they nest nothing here). */
function nginxParts(conf: string): { server: string; locations: { path: string; body: string }[] } {
  const text = conf.replace(/#[^\n]*/g, '');
  const locations = [...text.matchAll(/location\s+([^{]+?)\s*\{([^}]*)\}/g)].map((m) => ({
    path: m[1]!,
    body: m[2]!,
  }));
  return { server: text.replace(/location\s+[^{]+\{[^}]*\}/g, ''), locations };
}

const directive = (text: string, name: string) =>
  [...text.matchAll(new RegExp(`(?:^|[;{}\\s])${name}\\s+([^;]+);`, 'g'))].map((m) => m[1]!);

/** The registry pod as the checks read it: Apicurio, its proxy and the proxy's nginx.conf. */
interface RegistryPod {
  pod: PodSpec;
  apicurio: Container;
  proxy: Container;
  /** The port Apicurio's API listens on (QUARKUS_HTTP_PORT). */
  apiPort: number;
  conf: ReturnType<typeof nginxParts> & {
    listens: { port: number; ssl: boolean }[];
    passes: string[];
    /** ssl_certificate and ssl_certificate_key, variables set by a `map` default resolved. */
    certificate?: string;
    key?: string;
  };
}

/**
 * The files nginx's TLS directives name. A variable in the path (which makes nginx load the
 * file at the handshake, so a renewed certificate applies without a restart) is resolved
 * through the `map` that gives it its only value, as `default`.
 */
function tlsFiles(text: string): { certificate?: string; key?: string } {
  const values = new Map(
    [...text.matchAll(/map\s+\S+\s+\$(\w+)\s*\{\s*default\s+([^;\s]+)\s*;\s*\}/g)].map((m) => [
      m[1]!,
      m[2]!,
    ]),
  );
  const resolve = (value: string | undefined) =>
    value?.replace(/\$(\w+)/g, (whole, name: string) => values.get(name) ?? whole);
  return {
    certificate: resolve(directive(text, 'ssl_certificate')[0]),
    key: resolve(directive(text, 'ssl_certificate_key')[0]),
  };
}

function registryPod(resources: Resource[]): RegistryPod | string {
  const deployment = find(resources, 'Deployment', 'registry');
  const pod = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
  const apicurio = pod.containers.find((c) => /(^|\/)apicurio-registry:/.test(c.image));
  const proxy = pod.containers.find((c) => /(^|\/)nginx[\w-]*:/.test(c.image));
  if (!apicurio || !proxy) return 'Deployment registry: no Apicurio container beside an nginx one';
  const apiPort = Number(apicurio.env?.find((v) => v.name === 'QUARKUS_HTTP_PORT')?.value ?? 8080);
  // The configuration nginx is started with (`-c`), from the ConfigMap mounted there.
  const argv = [...(proxy.command ?? []), ...(proxy.args ?? [])];
  const file = mountedFiles(pod, proxy).get(argv[argv.indexOf('-c') + 1] ?? '');
  const text =
    file?.kind === 'ConfigMap'
      ? find(resources, 'ConfigMap', file.name).data?.[file.key]
      : undefined;
  if (text === undefined) return 'Deployment registry: no nginx configuration for the proxy';
  const conf = {
    ...nginxParts(text),
    listens: directive(text, 'listen').map((l) => ({
      port: Number(/(\d+)(\s|$)/.exec(l)?.[1]),
      ssl: /\sssl(\s|$)/.test(l),
    })),
    passes: directive(text, 'proxy_pass'),
    ...tlsFiles(nginxParts(text).server),
  };
  return { pod, apicurio, proxy, apiPort, conf };
}

/** Apicurio on loopback; the proxy pinned, non-root, on a read-only root file system. */
function containerProblems({ pod, apicurio, proxy }: RegistryPod): string[] {
  const problems: string[] = [];
  const host = apicurio.env?.find((v) => v.name === 'QUARKUS_HTTP_HOST')?.value ?? '0.0.0.0';
  if (!LOOPBACK.includes(host)) {
    problems.push('Deployment registry: Apicurio listens beyond loopback (QUARKUS_HTTP_HOST)');
  }
  if (!/:[\w.-]+$/.test(proxy.image) || proxy.image.endsWith(':latest')) {
    problems.push(`Deployment registry: the proxy's image ${proxy.image} has no pinned tag`);
  }
  if (!proxy.securityContext?.readOnlyRootFilesystem) {
    problems.push("Deployment registry: the proxy's root file system is writable");
  }
  if (!(proxy.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot)) {
    problems.push('Deployment registry: the proxy may run as root');
  }
  return problems;
}

/**
 * nginx passes only to Apicurio on loopback, requires basic auth with the user file of
 * catch-all-registry-credentials for all it passes, and answers its own probes itself; the
 * kubelet probes Apicurio on a port it can reach (not the loopback-only API).
 */
function nginxProblems({ pod, apicurio, proxy, apiPort, conf }: RegistryPod): string[] {
  const problems: string[] = [];
  for (const target of conf.passes) {
    const url = new URL(target);
    if (!LOOPBACK.includes(url.hostname) || Number(url.port) !== apiPort) {
      problems.push(`registry proxy: passes to ${target}, not Apicurio on loopback:${apiPort}`);
    }
  }
  const realm = directive(conf.server, 'auth_basic')[0];
  const userFile = directive(conf.server, 'auth_basic_user_file')[0] ?? '';
  const users = mountedFiles(pod, proxy).get(userFile);
  if (!realm || realm === 'off') problems.push('registry proxy: no basic auth for the server');
  if (users?.kind !== 'Secret' || users.name !== REGISTRY_CREDENTIALS || users.key !== 'htpasswd') {
    problems.push(`registry proxy: the user file is not ${REGISTRY_CREDENTIALS}'s htpasswd`);
  }
  const open = conf.locations.filter((l) => directive(l.body, 'auth_basic').includes('off'));
  for (const l of open.filter((l) => directive(l.body, 'proxy_pass').length > 0)) {
    problems.push(`registry proxy: location ${l.path} passes to Apicurio without auth`);
  }
  const probes = (c: Container) =>
    [c.readinessProbe, c.livenessProbe, c.startupProbe].filter((p): p is Probe => !!p);
  for (const probe of probes(apicurio)) {
    if (portOf(pod, probe.httpGet?.port ?? '').number === apiPort) {
      problems.push("Deployment registry: Apicurio's probe targets its loopback-only API port");
    }
  }
  for (const probe of probes(proxy)) {
    if (!open.some((l) => l.path === `= ${probe.httpGet?.path}`)) {
      problems.push(`registry proxy: the probe's path ${probe.httpGet?.path} asks for credentials`);
    }
    // The kubelet's plain request to a TLS port gets 400, as would a TLS one to a plain port.
    const port = portOf(pod, probe.httpGet?.port ?? '').number;
    const ssl = conf.listens.find((l) => l.port === port)?.ssl;
    if (ssl !== undefined && ssl !== (probe.httpGet?.scheme === 'HTTPS')) {
      problems.push(
        `registry proxy: the probe of ${probe.httpGet?.path} speaks ${probe.httpGet?.scheme ?? 'HTTP'} to a ${ssl ? 'TLS' : 'plain'} port`,
      );
    }
  }
  return problems;
}

/** Every way in from other pods, the Service's ports and the NetworkPolicies', is the proxy. */
function wayInProblems(resources: Resource[], { pod, proxy, conf }: RegistryPod): string[] {
  const service = find(resources, 'Service', 'registry').spec as { ports: ServicePort[] };
  const policies = resources.filter(
    (r) =>
      r.kind === 'NetworkPolicy' &&
      JSON.stringify(r.spec?.podSelector).includes('"app.kubernetes.io/name":"registry"'),
  );
  const ways: [string, number | string | undefined][] = [
    ...service.ports.map((p): [string, number | string] => [
      `Service registry port ${p.port}`,
      p.targetPort ?? p.port,
    ]),
    ...policies.flatMap((r) =>
      ((r.spec as { ingress?: PolicyRule[] }).ingress ?? []).flatMap((rule) =>
        // A rule without ports admits every port.
        (rule.ports ?? [{}]).map((p): [string, number | string | undefined] => [
          `NetworkPolicy ${r.metadata.name}`,
          p.port,
        ]),
      ),
    ),
  ];
  const problems: string[] = [];
  for (const [way, port] of ways) {
    const target = port === undefined ? {} : portOf(pod, port);
    const listen = conf.listens.find((l) => l.port === target.number);
    if (target.container !== proxy || !listen) {
      const reached = target.container?.name ?? `port ${port ?? 'any'}`;
      problems.push(`${way}: reaches ${reached}, not the proxy`);
    } else if (!listen.ssl) {
      problems.push(`${way}: reaches the proxy without TLS`);
    }
  }
  return problems;
}

/**
 * Why the registry is not reached only with credentials in a secured overlay: the proxy's
 * problems, and each program that reads the registry goes to its Service with the user and
 * password of catch-all-registry-credentials (the password as a mounted file).
 */
export function registryProblems(resources: Resource[]): string[] {
  if (!securedOverlay(resources)) return [];
  const registry = registryPod(resources);
  const tls =
    typeof registry === 'string'
      ? undefined
      : certificateProblems(resources, mountedFiles(registry.pod, registry.proxy), registry.conf);
  const problems =
    typeof registry === 'string'
      ? [registry]
      : [
          ...containerProblems(registry),
          ...nginxProblems(registry),
          ...wayInProblems(resources, registry),
          ...tls!.problems,
        ];
  const service = find(resources, 'Service', 'registry').spec as { ports: ServicePort[] };
  for (const c of imageContainers(resources)) {
    if (!('SCHEMA_REGISTRY_URL' in configOf[c.program]!)) continue;
    const url = new URL(c.values.SCHEMA_REGISTRY_URL ?? configFields.SCHEMA_REGISTRY_URL.default);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    if (
      !serviceNames(resources).includes(url.hostname) ||
      !service.ports.some((p) => p.port === port)
    ) {
      problems.push(`${c.workload}: SCHEMA_REGISTRY_URL is not the registry Service`);
    }
    // The password goes only inside TLS, to a server the program verifies.
    if (url.protocol !== 'https:') {
      problems.push(`${c.workload}: SCHEMA_REGISTRY_URL is not https`);
    } else if (tls?.certificate && !tls.certificate.dnsNames?.includes(url.hostname)) {
      problems.push(`${c.workload}: the registry's certificate does not name ${url.hostname}`);
    }
    const ca = c.files.get(c.values.SCHEMA_REGISTRY_CA_FILE ?? '');
    const caSecret = tls?.certificate?.secretName;
    if (ca?.kind !== 'Secret' || ca.name !== caSecret || ca.key !== 'ca.crt') {
      problems.push(`${c.workload}: SCHEMA_REGISTRY_CA_FILE is not ${caSecret}'s ca.crt`);
    }
    const user = c.fromSecrets.get('SCHEMA_REGISTRY_USERNAME');
    if (user?.name !== REGISTRY_CREDENTIALS || user.key !== 'username') {
      problems.push(
        `${c.workload}: SCHEMA_REGISTRY_USERNAME is not ${REGISTRY_CREDENTIALS}'s username`,
      );
    }
    const password = c.files.get(c.values.SCHEMA_REGISTRY_PASSWORD_FILE ?? '');
    const ok = password?.kind === 'Secret' && password.name === REGISTRY_CREDENTIALS;
    if (!ok || password.key !== 'password') {
      problems.push(
        `${c.workload}: SCHEMA_REGISTRY_PASSWORD_FILE is not ${REGISTRY_CREDENTIALS}'s password`,
      );
    }
  }
  return problems;
}
