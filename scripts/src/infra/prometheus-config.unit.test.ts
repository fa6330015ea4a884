import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { COMPOSE_PROMETHEUS_CONFIG, localPrometheusConfig } from './prometheus';

describe("a local Prometheus's configuration", () => {
  it("is Docker Compose's scrape job with the local targets in place of the compose host names", () => {
    const compose = parse(readFileSync(COMPOSE_PROMETHEUS_CONFIG, 'utf8')) as {
      scrape_configs: Record<string, unknown>[];
    };
    const config = localPrometheusConfig({
      targets: ['127.0.0.1:3000', '127.0.0.1:3002', '127.0.0.1:3001'],
      ruleFiles: ['/rules/alerts.yml'],
      scrapeIntervalS: 5,
    });
    expect(config).toEqual({
      global: { scrape_interval: '5s', evaluation_interval: '5s' },
      rule_files: ['/rules/alerts.yml'],
      scrape_configs: [
        {
          ...compose.scrape_configs[0],
          static_configs: [{ targets: ['127.0.0.1:3000', '127.0.0.1:3002', '127.0.0.1:3001'] }],
        },
      ],
    });
    // What the alerts and the dashboard rely on: the job, and the services' own `service` label.
    expect(config.scrape_configs[0]).toMatchObject({ job_name: 'catch-all', honor_labels: true });
  });
});
