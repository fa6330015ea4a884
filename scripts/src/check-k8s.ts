import { readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './infra/paths';
import { kustomizeBuild, prepareK8sTools, validateManifests } from './k8s';

/**
 * `npm run check:k8s`: builds every overlay under k8s/overlays and validates the result
 * against the Kubernetes and CRD schemas, offline. Exits 1 on the first broken overlay.
 */
async function main(): Promise<number> {
  const tools = await prepareK8sTools((message) => console.log(message));
  const overlays = path.join(REPO_ROOT, 'k8s', 'overlays');
  let failed = 0;
  for (const overlay of readdirSync(overlays).sort()) {
    const report = await validateManifests(
      tools,
      await kustomizeBuild(tools, path.join(overlays, overlay)),
    );
    const { valid, invalid, errors } = report.summary;
    console.log(`${overlay}: ${valid} valid, ${invalid} invalid, ${errors} errors`);
    for (const r of report.resources.filter((r) => r.status !== 'statusValid')) {
      console.log(`  ${r.kind} ${r.name}: ${r.msg}`);
    }
    if (!report.ok) failed += 1;
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
