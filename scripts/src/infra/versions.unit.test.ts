import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { jaegerRelease, JAEGER_VERSION } from './jaeger';
import { REPO_ROOT } from './paths';
import { prometheusRelease, PROMETHEUS_VERSION } from './prometheus';

/** The tag of the image a service of docker-compose.yml runs (`image: name:tag`). */
function composeTag(service: string, image: string): string {
  const compose = parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), {
    merge: true,
  }) as { services: Record<string, { image?: string }> };
  const ref = compose.services[service]?.image ?? '';
  expect(ref.startsWith(`${image}:`)).toBe(true);
  return ref.slice(image.length + 1);
}

/** The version a go.mod under scripts/ requires of `module`. */
function goModRequire(dir: string, module: string): string | undefined {
  const goMod = readFileSync(path.join(REPO_ROOT, 'scripts', dir, 'go.mod'), 'utf8');
  const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\s*${escaped} (v\\S+)`, 'm').exec(goMod)?.[1];
}

describe('the versions the tests build and docker-compose.yml runs', () => {
  it('build the Jaeger that Docker Compose runs', () => {
    expect(goModRequire('jaeger', 'github.com/jaegertracing/jaeger')).toBe(JAEGER_VERSION);
    expect(jaegerRelease(JAEGER_VERSION)).toBe(composeTag('jaeger', 'jaegertracing/jaeger'));
  });

  it('build the Prometheus (server and promtool) that Docker Compose runs', () => {
    expect(goModRequire('prometheus', 'github.com/prometheus/prometheus')).toBe(PROMETHEUS_VERSION);
    expect(prometheusRelease(PROMETHEUS_VERSION)).toBe(composeTag('prometheus', 'prom/prometheus'));
  });

  it('map Prometheus module versions to releases, and refuse what is not one', () => {
    expect(prometheusRelease('v0.305.0')).toBe('v3.5.0');
    expect(prometheusRelease('v0.310.2')).toBe('v3.10.2');
    expect(() => prometheusRelease('v3.5.0')).toThrow(/not a Prometheus v3 module version/);
    expect(() => prometheusRelease('v0.54.1')).toThrow(/not a Prometheus v3 module version/);
  });

  it('map Jaeger module versions to releases, and refuse what is not one', () => {
    expect(jaegerRelease('v1.76.0')).toBe('2.13.0');
    expect(jaegerRelease('v1.63.2')).toBe('2.0.2');
    expect(() => jaegerRelease('v2.13.0')).toThrow(/not a Jaeger v1 module version/);
    expect(() => jaegerRelease('v1.62.0')).toThrow(/not a Jaeger v1 module version/);
  });
});
