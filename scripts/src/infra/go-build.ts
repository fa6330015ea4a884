import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../run-command';
import { localDir } from './paths';

/** What buildGoTools builds, and why the project needs it (named when Go is missing). */
export interface GoToolsBuild {
  /** As messages name it: `Prometheus v3.5.0`. */
  title: string;
  /** The folder under .local/dist/ that holds the binaries: `prometheus-v3.5.0`. */
  distName: string;
  /** The folder of the go.mod that pins the tool and every dependency (go.sum checks them). */
  moduleDir: string;
  /** Package paths of the commands to build; each binary is named after its last element. */
  packages: string[];
  /** Extra `-ldflags` (a version stamp), beside `-s -w` (no symbol table, no DWARF). */
  ldflags?: string;
  neededFor: string;
  /** How long a first build takes, for the message that starts it: `about 14 minutes ...`. */
  firstBuild?: string;
}

/** True when .local/dist/<distName>/ holds a completed build (buildGoTools returns at once). */
export function goToolsBuilt(distName: string): boolean {
  return existsSync(path.join(localDir('dist', distName), '.complete'));
}

/**
 * Builds Go commands once from the Go module proxy into .local/dist/<distName>/ with the
 * installed Go (`GOTOOLCHAIN=local`: never another toolchain; `-mod=readonly`: exactly what
 * go.mod and go.sum pin) and returns that folder. A `.complete` marker written after a
 * successful build makes later calls return at once; a folder without it (a build cut off)
 * is built again from nothing. A fresh machine takes minutes (downloading and compiling the
 * modules; Go's build cache keeps them for later builds). `signal` stops a build under way
 * (its whole process group; the folder is left without its marker). Throws when Go is
 * missing, the build fails (with its output) or is stopped.
 */
export async function buildGoTools(
  build: GoToolsBuild,
  log?: (message: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  const dir = localDir('dist', build.distName);
  const marker = path.join(dir, '.complete');
  if (goToolsBuilt(build.distName)) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log?.(
    `building ${build.title} from the Go module proxy into ${dir} (once: ${build.firstBuild ?? 'minutes'}; later runs use it at once)`,
  );
  const started = Date.now();
  const ldflags = ['-s -w', build.ldflags].filter(Boolean).join(' ');
  await runCommand(
    'go',
    ['build', '-o', `${dir}${path.sep}`, '-ldflags', ldflags, ...build.packages],
    {
      cwd: build.moduleDir,
      env: { GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
      neededFor: build.neededFor,
      signal,
    },
  );
  writeFileSync(marker, new Date().toISOString());
  log?.(`${build.title} built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}
