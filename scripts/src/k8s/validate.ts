import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runCommand } from '../run-command';
import type { K8sTools } from './tools';

const run = promisify(execFile);

export interface ResourceResult {
  filename: string;
  kind: string;
  name: string;
  version: string;
  status: 'statusValid' | 'statusInvalid' | 'statusError' | 'statusSkipped' | 'statusEmpty';
  msg: string;
}

export interface ValidationReport {
  ok: boolean;
  resources: ResourceResult[];
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

/** `kustomize build <dir>`: the manifests as one YAML stream; throws kustomize's message. */
export async function kustomizeBuild(tools: K8sTools, dir: string): Promise<string> {
  return (await runCommand(tools.kustomize, ['build', dir])).stdout;
}

/**
 * kubeconform in strict mode (unknown fields are errors) against the Kubernetes schemas and
 * the CRD schemas; a resource without a schema is an error, never skipped.
 */
export async function validateManifests(
  tools: K8sTools,
  manifests: string,
): Promise<ValidationReport> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubeconform-'));
  try {
    const file = path.join(dir, 'manifests.yaml');
    writeFileSync(file, manifests);
    const args = [
      '-strict',
      '-summary',
      '-verbose',
      '-output',
      'json',
      ...tools.schemaLocations.flatMap((location) => ['-schema-location', location]),
      file,
    ];
    // kubeconform exits 1 when a resource is invalid; its JSON report says which.
    const { stdout } = await run(tools.kubeconform, args, { maxBuffer: 64 * 1024 * 1024 }).catch(
      (err: Error & { stdout?: string; stderr?: string }) => {
        if (!err.stdout) throw new Error(`kubeconform failed: ${err.stderr ?? err.message}`);
        return { stdout: err.stdout };
      },
    );
    const report = JSON.parse(stdout) as Omit<ValidationReport, 'ok'>;
    const { invalid, errors, skipped } = report.summary;
    return { ...report, ok: invalid === 0 && errors === 0 && skipped === 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
