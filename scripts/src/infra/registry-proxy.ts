import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { startProcess, type ManagedProcess } from './managed-process';
import { fetchDebianBinary } from './debian-package';

export interface RegistryProxyOptions {
  /** Configuration, pid, logs and nginx's temporary files live here. */
  dir: string;
  port: number;
  /** The registry's plain URL (`http://127.0.0.1:<port>/apis/ccompat/v7`). */
  upstreamUrl: string;
  certFile: string;
  keyFile: string;
  /** Verifies the proxy's certificate in the readiness check. */
  caFile: string;
  basicUser: { username: string; password: string };
  token: string;
}

export interface RunningRegistryProxy {
  /** The registry's URL through the proxy: https, same path as the plain one. */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Debian's nginx binary, unpacked into .local/ (see fetchDebianBinary). */
export function fetchNginx(): Promise<string> {
  return fetchDebianBinary('nginx', 'usr/sbin/nginx');
}

/** A map key in nginx's configuration syntax (double-quoted; map keys take no variables). */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function config(o: RegistryProxyOptions, usersFile: string): string {
  const upstream = new URL(o.upstreamUrl);
  const temp = (name: string) => `${name}_temp_path ${path.join(o.dir, 'temp', name)};`;
  return `
daemon off;
master_process on;
worker_processes 1;
pid ${path.join(o.dir, 'nginx.pid')};
error_log ${path.join(o.dir, 'error.log')} warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 256; }
http {
  access_log off;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  # A request with the token skips basic auth: auth_basic's realm "off" turns it off.
  map $http_authorization $catchall_realm {
    default "Catch-all schema registry";
    ${quoted(`Bearer ${o.token}`)} off;
  }
  server {
    listen 127.0.0.1:${o.port} ssl;
    ssl_certificate ${o.certFile};
    ssl_certificate_key ${o.keyFile};
    location / {
      auth_basic $catchall_realm;
      auth_basic_user_file ${usersFile};
      proxy_set_header Authorization "";
      proxy_pass http://${upstream.host};
    }
  }
}
`;
}

function answers(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = https.get(`${url}/subjects`, { ca, timeout: 1000 }, (response) => {
      response.resume();
      // Without credentials the proxy must ask for them: 401 means it serves.
      resolve(response.statusCode === 401);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

/**
 * nginx in front of the registry for tests of secured clients: TLS with the run's server
 * certificate, and HTTP basic auth (`{PLAIN}` user file) or a bearer token required.
 */
export async function startRegistryProxy(o: RegistryProxyOptions): Promise<RunningRegistryProxy> {
  const nginx = await fetchNginx();
  mkdirSync(path.join(o.dir, 'temp'), { recursive: true });
  const usersFile = path.join(o.dir, 'users');
  writeFileSync(usersFile, `${o.basicUser.username}:{PLAIN}${o.basicUser.password}\n`, {
    mode: 0o600,
  });
  const configFile = path.join(o.dir, 'nginx.conf');
  writeFileSync(configFile, config(o, usersFile));
  const url = `https://127.0.0.1:${o.port}${new URL(o.upstreamUrl).pathname}`;
  const ca = readFileSync(o.caFile, 'utf8');
  const proc = await startProcess({
    name: 'registry proxy (nginx)',
    command: nginx,
    args: ['-p', o.dir, '-c', configFile, '-e', path.join(o.dir, 'error.log')],
    cwd: o.dir,
    stopSignal: 'SIGTERM',
    logFile: path.join(o.dir, 'nginx.log'),
    ready: () => answers(url, ca),
    timeoutMs: 30000,
  });
  return { url, process: proc, stop: () => proc.stop() };
}
