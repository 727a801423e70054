// The npm `consul` client (2.x, unmodified) against any corral node:
// register → agent.service.list → health.service with a TTL check flipping
// pass/fail → a watch (blocking query) that sees a change within 1 s →
// deregister. Reusable: the dev test, the leader+agent test and (later) the
// Raft cluster test all run it against their base URL.
import { EventEmitter } from "node:events";
import { expect } from "bun:test";
import Consul from "consul";
import { eventually } from "../helpers/proc.ts";

export interface FlowOptions {
  /** Defaults to a fresh name, so the flow can run repeatedly against one cluster. */
  service?: string;
  /** Keep the registration at the end (the caller checks it survives something). */
  keep?: boolean;
  /** Bound for reads to reflect a write (stale followers): default 5 s. */
  settleMs?: number;
}

export interface FlowResult {
  service: string;
  serviceId: string;
  checkId: string;
  /** ms from a check change to the watch's `change` event. */
  watchLatencyMs: number;
}

export function consulClient(baseUrl: string) {
  const u = new URL(baseUrl);
  return new Consul({ host: u.hostname, port: Number(u.port) });
}

/** A consul call's headers and body: node-consul hands out the response when its ctx asks for it. */
export async function withResponse<T>(call: (opts: { ctx: EventEmitter }) => Promise<unknown>): Promise<{ index: bigint; body: T }> {
  const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
  const [res, body] = (await call({ ctx })) as [{ headers: Record<string, string> }, T];
  return { index: BigInt(res.headers["x-consul-index"]!), body };
}

type Entry = { Service: { ID: string }; Checks: { CheckID: string; Status: string; Output: string }[] };

export async function runConsulClientFlow(baseUrl: string, opts: FlowOptions = {}): Promise<FlowResult> {
  const consul = consulClient(baseUrl);
  const settle = opts.settleMs ?? 5_000;
  const service = opts.service ?? `flow-${Math.random().toString(36).slice(2, 8)}`;
  const serviceId = `${service}-1`;
  const checkId = `service:${serviceId}`;
  const health = (passing = false) => consul.health.service({ service, passing }) as Promise<Entry[]>;
  const statusOf = (entries: Entry[]) => entries[0]?.Checks.find((c) => c.CheckID === checkId)?.Status;

  await consul.agent.service.register({
    name: service, id: serviceId, tags: ["v1", "flow"], port: 9000, meta: { owner: "flow" },
    // The client's typings demand check fields Consul does not (name, timeout): the defaults are under test here.
    check: { ttl: "60s", notes: "driven by the flow" },
  } as Parameters<typeof consul.agent.service.register>[0] & object);
  const local = (await consul.agent.service.list()) as Record<string, any>;
  expect(local[serviceId]).toMatchObject({ ID: serviceId, Service: service, Tags: ["v1", "flow"], Port: 9000, Meta: { owner: "flow" } });

  // A new TTL check starts critical (§4.1): listed without ?passing, dropped with it.
  const first = await eventually(async () => ((await health()).length === 1 ? await health() : undefined), settle);
  expect(statusOf(first)).toBe("critical");
  expect(first[0]!.Checks[0]).toMatchObject({ CheckID: "serfHealth", Status: "passing" });
  expect(await health(true)).toEqual([]);

  await consul.agent.check.pass({ id: checkId, note: "all good" });
  const passing = await eventually(async () => ((await health(true)).length === 1 ? await health(true) : undefined), settle);
  expect(passing[0]!.Checks.find((c) => c.CheckID === checkId)).toMatchObject({ Status: "passing", Output: "all good" });

  await consul.agent.check.fail({ id: checkId, note: "broken" });
  await eventually(async () => (await health(true)).length === 0, settle);
  await consul.agent.check.warn(checkId);
  await eventually(async () => statusOf(await health()) === "warning", settle);
  expect(await health(true)).toEqual([]); // ?passing drops warning too

  // A watch (blocking query with index) sees the next change within 1 s.
  const watchLatencyMs = await watchOneChange(consul, service, async () => {
    await consul.agent.check.pass({ id: checkId, note: "back" });
  });
  expect(watchLatencyMs).toBeLessThan(1_000);

  if (!opts.keep) {
    await consul.agent.service.deregister(serviceId);
    expect(((await consul.agent.service.list()) as Record<string, unknown>)[serviceId]).toBeUndefined();
    await eventually(async () => (await health()).length === 0, settle);
    expect(((await consul.catalog.service.list()) as Record<string, unknown>)[service]).toBeUndefined();
  }
  return { service, serviceId, checkId, watchLatencyMs };
}

/** Starts a watch on health.service, waits for its first result, runs `change`, and times the next `change` event. */
async function watchOneChange(consul: ReturnType<typeof consulClient>, service: string, change: () => Promise<void>): Promise<number> {
  const watch = consul.watch({ method: consul.health.service, options: { service, wait: "30s" } });
  try {
    const events: { at: number; data: Entry[] }[] = [];
    const errors: unknown[] = [];
    watch.on("change", (data: Entry[]) => events.push({ at: Date.now(), data }));
    watch.on("error", (err: unknown) => errors.push(err));
    await eventually(() => events.length >= 1 || errors.length > 0, 10_000, 10);
    expect(errors).toEqual([]);
    // Give the watch time to issue its blocking call before changing anything.
    await Bun.sleep(200);
    const before = events.length;
    const t0 = Date.now();
    await change();
    await eventually(() => events.length > before, 5_000, 5);
    expect(errors).toEqual([]);
    expect(events[before]!.data[0]!.Checks.some((c) => c.Status === "passing" && c.Output === "back")).toBe(true);
    return events[before]!.at - t0;
  } finally {
    watch.end();
  }
}
