import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildGoTools } from './go-build';
import { startProcess, type ManagedProcess } from './managed-process';
import { REPO_ROOT } from './paths';
import { freePort } from './ports';

/**
 * The Jaeger Go module version built, as scripts/jaeger/go.mod pins it (its `require` line for
 * github.com/jaegertracing/jaeger). Jaeger publishes v1.N and v2.(N-63) together, and the
 * module's cmd/jaeger at v1.76.0 is the Jaeger v2.13.0 release: the image docker-compose.yml
 * runs (jaegertracing/jaeger:2.13.0). A unit test (versions.unit.test.ts) fails when the two differ.
 */
export const JAEGER_VERSION = 'v1.76.0';

/**
 * The Jaeger release (as its images are tagged, `2.13.0`) of a Jaeger Go module version
 * (`v1.76.0`): Jaeger tags each release v1.N.P and v2.(N-63).P together, and the Go module
 * keeps the v1 path. Throws for a version that is not `v1.N.P` with N of 63 or more.
 */
export function jaegerRelease(moduleVersion: string): string {
  const match = /^v1\.(\d+)\.(\d+)$/.exec(moduleVersion);
  if (!match || Number(match[1]) < 63) {
    throw new Error(`${moduleVersion} is not a Jaeger v1 module version paired with a v2 release`);
  }
  return `2.${Number(match[1]) - 63}.${match[2]}`;
}
const JAEGER_PACKAGE = 'github.com/jaegertracing/jaeger/cmd/jaeger';
/** The Go module that pins Jaeger and every dependency (go.sum checks what the proxy serves). */
const JAEGER_MODULE_DIR = path.join(REPO_ROOT, 'scripts', 'jaeger');

/**
 * The Jaeger binary (all in one: an OTLP receiver, in-memory storage and the query API),
 * built once from the Go module proxy into .local/dist/jaeger-<version>/jaeger with the
 * installed Go (never another toolchain). Jaeger's own go.mod has a `replace` directive, so
 * `go install pkg@version` refuses it; scripts/jaeger/go.mod names it as a tool instead.
 * A fresh machine takes minutes (downloading and compiling the collector's modules); later
 * calls return at once. Throws when Go is missing or the build fails, with its output.
 */
export async function fetchJaeger(log?: (message: string) => void): Promise<string> {
  const dir = await buildGoTools(
    {
      title: `Jaeger ${JAEGER_VERSION}`,
      distName: `jaeger-${JAEGER_VERSION}`,
      moduleDir: JAEGER_MODULE_DIR,
      packages: [JAEGER_PACKAGE],
      neededFor: 'the tracing tests (a real OTLP receiver)',
    },
    log,
  );
  return path.join(dir, 'jaeger');
}

export interface RunningJaeger {
  /** The OTLP/HTTP receiver's base address, `http://127.0.0.1:<port>` (the SDK adds /v1/traces). */
  otlpHttpUrl: string;
  /** The query service's HTTP API (`/api/traces/<traceId>`, `/api/services`). */
  queryUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * The collector configuration: Jaeger's all-in-one pipeline (OTLP in, in-memory storage,
 * the query API) with every listener on a free loopback port and its own metrics off, so
 * that it never takes a fixed port another run holds.
 */
function jaegerConfig(ports: {
  otlpGrpc: number;
  otlpHttp: number;
  queryHttp: number;
  queryGrpc: number;
  health: number;
}): unknown {
  const at = (port: number) => `127.0.0.1:${port}`;
  return {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query', 'healthcheckv2'],
      pipelines: {
        traces: {
          receivers: ['otlp'],
          processors: ['batch'],
          exporters: ['jaeger_storage_exporter'],
        },
      },
      telemetry: {
        resource: { 'service.name': 'jaeger' },
        metrics: { level: 'none' },
        logs: { level: 'info' },
      },
    },
    extensions: {
      jaeger_query: {
        storage: { traces: 'memory_store' },
        http: { endpoint: at(ports.queryHttp) },
        grpc: { endpoint: at(ports.queryGrpc) },
      },
      jaeger_storage: { backends: { memory_store: { memory: { max_traces: 100000 } } } },
      healthcheckv2: { use_v2: true, http: { endpoint: at(ports.health) } },
    },
    receivers: {
      otlp: {
        protocols: {
          grpc: { endpoint: at(ports.otlpGrpc) },
          http: { endpoint: at(ports.otlpHttp) },
        },
      },
    },
    processors: { batch: { timeout: '200ms' } },
    exporters: { jaeger_storage_exporter: { trace_storage: 'memory_store' } },
  };
}

/**
 * A real Jaeger (see fetchJaeger) on free loopback ports, its configuration and log in
 * `dir`; resolves once its health check and query API answer.
 */
export async function startJaeger(options: {
  dir: string;
  log?: (message: string) => void;
}): Promise<RunningJaeger> {
  const binary = await fetchJaeger(options.log);
  mkdirSync(options.dir, { recursive: true });
  const ports = {
    otlpGrpc: await freePort(),
    otlpHttp: await freePort(),
    queryHttp: await freePort(),
    queryGrpc: await freePort(),
    health: await freePort(),
  };
  // JSON is YAML: the collector reads either.
  const config = path.join(options.dir, 'jaeger.yaml');
  writeFileSync(config, JSON.stringify(jaegerConfig(ports), null, 2));
  const queryUrl = `http://127.0.0.1:${ports.queryHttp}`;
  const proc = await startProcess({
    name: 'jaeger',
    command: binary,
    args: ['--config', config],
    // Jaeger would trace itself to the default OTLP port (another program's, or none).
    env: { OTEL_TRACES_EXPORTER: 'none', OTEL_SDK_DISABLED: 'true' },
    logFile: path.join(options.dir, 'jaeger.log'),
    ready: async () =>
      (await fetch(`http://127.0.0.1:${ports.health}/status`)).ok &&
      (await fetch(`${queryUrl}/api/services`)).ok,
    timeoutMs: 60_000,
  });
  return {
    otlpHttpUrl: `http://127.0.0.1:${ports.otlpHttp}`,
    queryUrl,
    process: proc,
    stop: () => proc.stop(),
  };
}
