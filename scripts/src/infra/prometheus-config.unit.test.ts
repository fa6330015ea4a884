import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { COMPOSE_PROMETHEUS_CONFIG, localPrometheusConfig } from './prometheus';

describe("a local Prometheus's configuration", () => {
  it("is Docker Compose's scrape job with the local targets in place of the compose host names", () => {
    const compose = parse(readFileSync(COMPOSE_PROMETHEUS_CONFIG, 'utf8')) as {
      scrape_configs: Record<string, unknown>[];
    };
    const config = localPrometheusConfig({
      targets: [
        { address: '127.0.0.1:3000', service: 'producer-api' },
        { address: '127.0.0.1:3002', service: 'consumer' },
        { address: '127.0.0.1:3001', service: 'query-api' },
      ],
      ruleFiles: ['/rules/alerts.yml'],
      scrapeIntervalS: 5,
    });
    const job = compose.scrape_configs[0] as {
      static_configs: { targets: string[]; labels: Record<string, string> }[];
    };
    expect(config).toEqual({
      global: { scrape_interval: '5s', evaluation_interval: '5s' },
      rule_files: ['/rules/alerts.yml'],
      scrape_configs: [
        {
          ...job,
          // Compose's targets with their `service` labels, at the local addresses.
          static_configs: job.static_configs.map((c) => ({
            targets: [`127.0.0.1:${c.targets[0]!.split(':')[1]}`],
            labels: c.labels,
          })),
        },
      ],
    });
    // What the alerts and the dashboard rely on: the job, and the services' own `service` label.
    expect(config.scrape_configs[0]).toMatchObject({ job_name: 'catch-all', honor_labels: true });
  });
});
