import type { EventType } from '@catchall/core/domain';
import type { SeededRandom } from './seeded-random';

/** One distinct event of a storm, with the id its client chose. */
export interface StormEvent {
  eventId: string;
  domain: string;
  type: EventType;
}

/** One request a client sends (and sends again until it gets a 2xx). */
export interface StormRequest {
  route: 'put' | 'batch';
  /** Which ingest process takes the first try. */
  instance: number;
  events: StormEvent[];
}

export interface StormPlan {
  events: StormEvent[];
  /** In the order they leave; the requests of one slot leave together, in parallel. */
  slots: StormRequest[][];
  /** Events planned to be sent more than once, and those of them with tries side by side. */
  repeated: number;
  concurrent: number;
}

type Route = StormRequest['route'];

/** A batch being filled for one ingest process. */
interface OpenBatch {
  request: StormRequest;
  size: number;
  ids: Set<string>;
}

/**
 * A client's storm: each of `events` distinct events (over `domains` domains, about one in
 * seven bounced) is sent one to three times, each time over PUT (one try in three) or in a
 * batch, to any of `instances` ingest processes. Planned tries of one event go in different
 * thirds of the storm, except for about a third of the repeated events, whose tries leave
 * together (one slot) and so are in flight at the same time. Batches take the batch tries of
 * one process in order, 1 to `maxBatch` events each, never the same event twice.
 */
export function planStorm(
  random: SeededRandom,
  options: { prefix: string; events: number; domains: number; instances: number; maxBatch: number },
): StormPlan {
  const events: StormEvent[] = Array.from({ length: options.events }, (_, i) => ({
    eventId: `${options.prefix}-${i}`,
    domain: `d${random.int(0, options.domains - 1)}.${options.prefix}.example`,
    type: random.chance(1 / 7) ? 'bounced' : 'delivered',
  }));
  type Try = { event: StormEvent; route: Route; instance: number };
  /** Tries that leave together, at a point of the storm (0 to 3). */
  const groups: { at: number; together: boolean; tries: Try[] }[] = [];
  let repeated = 0;
  let concurrent = 0;
  for (const event of events) {
    const times = random.int(1, 3);
    const together = times > 1 && random.chance(1 / 3);
    if (times > 1) repeated += 1;
    if (together) concurrent += 1;
    const tries = Array.from({ length: times }, () => ({
      event,
      route: (random.chance(1 / 3) ? 'put' : 'batch') as Route,
      instance: random.int(0, options.instances - 1),
    }));
    if (together) groups.push({ at: random.next() * 3, together, tries });
    else tries.forEach((t, i) => groups.push({ at: i + random.next(), together, tries: [t] }));
  }
  groups.sort((a, b) => a.at - b.at);

  const slots: StormRequest[][] = [];
  const open = new Map<number, OpenBatch>();
  const openBatch = (instance: number) => {
    const batch = {
      request: { route: 'batch' as const, instance, events: [] },
      size: random.int(1, options.maxBatch),
      ids: new Set<string>(),
    };
    open.set(instance, batch);
    return batch;
  };
  for (const group of groups) {
    const slot: StormRequest[] = [];
    for (const t of group.tries) {
      if (t.route === 'put') {
        slot.push({ route: 'put', instance: t.instance, events: [t.event] });
        continue;
      }
      let batch = open.get(t.instance) ?? openBatch(t.instance);
      if (batch.ids.has(t.event.eventId)) {
        slot.push(batch.request);
        batch = openBatch(t.instance);
      }
      batch.request.events.push(t.event);
      batch.ids.add(t.event.eventId);
      // A try that must leave with the others of its event closes its batch now.
      if (group.together || batch.request.events.length >= batch.size) {
        slot.push(batch.request);
        open.delete(t.instance);
      }
    }
    if (slot.length > 0) slots.push(slot);
  }
  const rest = [...open.values()].map((b) => b.request);
  if (rest.length > 0) slots.push(rest);
  return { events, slots, repeated, concurrent };
}

export interface StormOutcome {
  /** Ids of the events some request carrying them got a 2xx for. */
  acked: Set<string>;
  tries: number;
  /** Tries that got no 2xx, by what happened: `503 <code>`, `timeout`, `connection`. */
  failedTries: Map<string, number>;
  /** Answers a retry cannot mend (4xx, 500), and requests given up: the test fails on them. */
  unexpected: string[];
}

export interface RunningStorm {
  /** Requests answered 2xx so far. */
  completed(): number;
  done: Promise<StormOutcome>;
}

function requestFor(base: string, request: StormRequest): [string, RequestInit] {
  if (request.route === 'put') {
    const [e] = request.events as [StormEvent];
    return [
      `${base}/events/${e.domain}/${e.type}`,
      { method: 'PUT', headers: { 'idempotency-key': e.eventId } },
    ];
  }
  return [
    `${base}/events`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'return=minimal' },
      body: JSON.stringify(request.events),
    },
  ];
}

/**
 * Sends the slots, `concurrency` at a time at most, slot i not before i / slots.length of
 * `durationMs` (so that faults can land inside the storm), the requests of a slot in
 * parallel. Each request is tried again after a 503, a timeout (a random `timeoutMs` range
 * per try) or a lost connection, on a process picked at random, until a try gets a 2xx, as
 * a careful client does. A try that failed may still have been stored: that is the point.
 */
export function runStorm(
  random: SeededRandom,
  options: {
    urls: string[];
    slots: StormRequest[][];
    durationMs: number;
    concurrency: number;
    timeoutMs: [number, number];
    giveUpAfterMs: number;
  },
): RunningStorm {
  const outcome: StormOutcome = {
    acked: new Set(),
    tries: 0,
    failedTries: new Map(),
    unexpected: [],
  };
  const start = Date.now();
  let next = 0;
  let completed = 0;
  const failed = (reason: string) =>
    outcome.failedTries.set(reason, (outcome.failedTries.get(reason) ?? 0) + 1);

  /** One try: true on a 2xx, false when it may be tried again; throws on anything else. */
  async function attempt(request: StormRequest, instance: number): Promise<boolean> {
    const [url, init] = requestFor(options.urls[instance]!, request);
    outcome.tries += 1;
    let response: Response;
    let body: string;
    try {
      const signal = AbortSignal.timeout(random.int(...options.timeoutMs));
      response = await fetch(url, { ...init, signal });
      body = await response.text();
    } catch (err) {
      failed((err as Error).name === 'TimeoutError' ? 'timeout' : 'connection');
      return false;
    }
    if (response.ok) return true;
    const code = (JSON.parse(body) as { code?: string }).code;
    if (response.status === 503) {
      failed(`503 ${code}`);
      return false;
    }
    throw new Error(`${init.method} ${url}: ${response.status} ${body}`);
  }

  async function send(request: StormRequest): Promise<void> {
    const giveUpAt = Date.now() + options.giveUpAfterMs;
    let instance = request.instance;
    for (;;) {
      if (await attempt(request, instance)) break;
      if (Date.now() > giveUpAt) {
        const ids = request.events.map((e) => e.eventId).join(', ');
        throw new Error(`no 2xx in ${options.giveUpAfterMs} ms for the ${request.route} of ${ids}`);
      }
      // A client's backoff before it tries again, on whichever process comes up.
      await new Promise((r) => setTimeout(r, random.int(50, 300)));
      instance = random.int(0, options.urls.length - 1);
    }
    for (const e of request.events) outcome.acked.add(e.eventId);
    completed += 1;
  }

  async function worker(): Promise<void> {
    const { slots } = options;
    while (next < slots.length) {
      const i = next++;
      // The storm's pace: slot i leaves at its share of the duration, not earlier.
      const due = start + (i / slots.length) * options.durationMs;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      await Promise.all(
        slots[i]!.map((request) =>
          send(request).catch((err: unknown) => {
            outcome.unexpected.push((err as Error).message);
          }),
        ),
      );
    }
  }

  const done = Promise.all(Array.from({ length: options.concurrency }, worker)).then(() => outcome);
  return { completed: () => completed, done };
}
