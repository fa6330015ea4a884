import { find, type MountedFile, type Resource } from './k8s-manifests';

/** What the checks read of a cert-manager Certificate. */
export interface CertificateSpec {
  secretName: string;
  dnsNames?: string[];
}

/** The names a client in the namespace, or in another one, may give the registry Service. */
export function serviceNames(resources: Resource[]): string[] {
  const { name, namespace } = find(resources, 'Service', 'registry').metadata;
  const svc = `${name}.${namespace}.svc`;
  return [name, `${name}.${namespace}`, svc, `${svc}.cluster.local`];
}

/**
 * nginx's certificate and key are those of a cert-manager Certificate's Secret (tls.crt,
 * tls.key), and that certificate names the registry Service by each of its names. Returns
 * the Certificate, for the clients' checks.
 */
export function certificateProblems(
  resources: Resource[],
  files: Map<string, MountedFile>,
  conf: { certificate?: string; key?: string },
): { problems: string[]; certificate?: CertificateSpec } {
  const crt = files.get(conf.certificate ?? '');
  const key = files.get(conf.key ?? '');
  const resource = resources.find(
    (r) => r.kind === 'Certificate' && r.spec?.secretName === crt?.name,
  );
  const certificate = resource?.spec as CertificateSpec | undefined;
  if (crt?.kind !== 'Secret' || crt.key !== 'tls.crt' || !certificate) {
    return { problems: ["registry proxy: ssl_certificate is not a Certificate's tls.crt"] };
  }
  const problems: string[] = [];
  if (key?.kind !== 'Secret' || key.name !== crt.name || key.key !== 'tls.key') {
    problems.push(`registry proxy: ssl_certificate_key is not ${crt.name}'s tls.key`);
  }
  for (const name of serviceNames(resources)) {
    if (!certificate.dnsNames?.includes(name)) {
      problems.push(`Certificate ${resource!.metadata.name}: does not name ${name}`);
    }
  }
  return { problems, certificate };
}
