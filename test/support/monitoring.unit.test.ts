import { alertParts, alertRules } from './monitoring';

describe('the parts of an alert expression that must return series', () => {
  it('takes each vector selector and each compared side that is not a number, offsets left out', () => {
    expect(
      alertParts(`
        sum(lag{service="consumer"}) > 10000
        and sum(lag{service="consumer"}) > sum(lag{service="consumer"} offset 10m)
        or absent(consumed_total)`),
    ).toEqual(['sum(lag{service="consumer"})', 'lag{service="consumer"}', 'consumed_total']);
    expect(alertParts('sum by (reason) (increase(dead_total[10m])) > 0')).toEqual([
      'sum by (reason) (increase(dead_total[10m]))',
      'dead_total',
    ]);
  });

  it('takes both sides of an unless: on a healthy system the right covers the left, neither is empty', () => {
    expect(
      alertParts(
        'up == 0 or label_replace(group(up), "service", "a", "", "") unless on (service) group by (service) (up)',
      ),
    ).toEqual([
      'up',
      'label_replace(group(up), "service", "a", "", "")',
      'group by (service) (up)',
    ]);
  });

  it('finds a metric selector in every alert of the rules', () => {
    for (const rule of alertRules()) expect(alertParts(rule.expr).length).toBeGreaterThan(1);
  });

  it('refuses an expression that is not PromQL', () => {
    expect(() => alertParts('sum(lag > ')).toThrow(/no PromQL/);
  });
});
