import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../run-command';
import { MAVEN_DIR, localDir } from './paths';

function pomProperty(pom: string, name: string): string {
  const match = new RegExp(`<${name}>([^<]+)</${name}>`).exec(readFileSync(pom, 'utf8'));
  if (!match) throw new Error(`${pom} has no <${name}>`);
  return match[1]!;
}

/**
 * Runs a Maven goal once into a versioned folder under .local/ and marks it complete, so a
 * second start costs nothing. Maven's own ~/.m2 cache serves a fresh folder quickly.
 */
async function fetchOnce(pomName: string, versionProperty: string, label: string, goal: string[]) {
  const pom = path.join(MAVEN_DIR, pomName);
  const version = pomProperty(pom, versionProperty);
  const dir = localDir('dist', `${label}-${version}`);
  const marker = path.join(dir, '.complete');
  if (existsSync(marker)) return { dir, version };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await runCommand('mvn', ['-B', '-q', '-f', pom, ...goal, `-DoutputDirectory=${dir}`], {
    neededFor: `fetching ${label} ${version}`,
  });
  writeFileSync(marker, new Date().toISOString());
  return { dir, version };
}

/** Apache Kafka's broker and tools jars with their dependencies, from Maven Central. */
export function fetchKafka(): Promise<{ dir: string; version: string }> {
  return fetchOnce('kafka.xml', 'kafka.version', 'kafka', [
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
  ]);
}

/** Apicurio Registry's runnable distribution (the `all` tar.gz), from Maven Central. */
export function fetchRegistry(): Promise<{ dir: string; version: string }> {
  return fetchOnce('registry.xml', 'apicurio.version', 'apicurio-registry', ['dependency:unpack']);
}

/** Strimzi's API model and CRD generator jars, from Maven Central. */
export function fetchStrimziCrdGenerator(): Promise<{ dir: string; version: string }> {
  return fetchOnce('strimzi.xml', 'strimzi.version', 'strimzi-crd-generator', [
    'dependency:copy-dependencies',
  ]);
}
