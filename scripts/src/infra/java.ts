import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

function majorVersion(java: string): number | undefined {
  // `java -version` prints to stderr.
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  return parse(`${result.stderr}${result.stdout}`);
}

function parse(text: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

function candidates(): string[] {
  const found: string[] = [];
  for (const home of [process.env.CATCHALL_JAVA_HOME, process.env.JAVA_HOME]) {
    if (home) found.push(path.join(home, 'bin', 'java'));
  }
  for (const root of ['/usr/lib/jvm', '/opt/java', '/usr/local/lib/jvm']) {
    if (!existsSync(root)) continue;
    for (const dir of readdirSync(root)) found.push(path.join(root, dir, 'bin', 'java'));
  }
  found.push('java');
  return found;
}

/**
 * The newest Java runtime at least `minimum`: CATCHALL_JAVA_HOME, JAVA_HOME, the usual JVM
 * folders, then `java` on the PATH. Kafka 4 needs 17; Apicurio Registry 3.3 needs 21.
 */
export function findJava(minimum: number): string {
  let best: { java: string; major: number } | undefined;
  for (const java of candidates()) {
    if (java !== 'java' && !existsSync(java)) continue;
    const major = majorVersion(java);
    if (major !== undefined && major >= minimum && (!best || major > best.major)) {
      best = { java, major };
    }
  }
  if (!best) {
    throw new Error(
      `No Java ${minimum} or newer found (looked at CATCHALL_JAVA_HOME, JAVA_HOME, /usr/lib/jvm and PATH). ` +
        `Install one (for example: apt-get install openjdk-${minimum}-jre-headless) or set CATCHALL_JAVA_HOME.`,
    );
  }
  return best.java;
}
