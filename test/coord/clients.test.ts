// Real Consul clients, unmodified, against a corral node: the npm `consul`
// client's session, acquire/release, renew and transaction calls, and
// Debian's python3-consul (python-consul) sessions, KV acquire/release and
// a blocking KV read. The Python half skips, with the reason printed, when
// python3-consul is not installed (.ci/run installs it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import Consul from "consul";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

let dev: CorralProcess;
let consul: InstanceType<typeof Consul>;
afterAll(killAll);

beforeAll(async () => {
  dev = await startCorral({ role: "dev" });
  consul = new Consul({ host: "127.0.0.1", port: dev.port });
});

describe("npm consul client", () => {
  test("session create/info/list/renew, acquire and release, contention, destroy releases", async () => {
    const a = (await consul.session.create({ name: "node-a", ttl: "15s", lockdelay: "0s" })) as { ID: string };
    const b = (await consul.session.create({ name: "node-b", lockdelay: "0s" })) as { ID: string };
    const info = (await consul.session.info(a.ID)) as { ID: string; Name: string; TTL: string };
    expect(info).toMatchObject({ ID: a.ID, Name: "node-a", TTL: "15s" });
    expect(((await consul.session.list()) as { ID: string }[]).map((s) => s.ID)).toEqual(expect.arrayContaining([a.ID, b.ID]));
    const renewed = (await consul.session.renew(a.ID)) as { ID: string }[];
    expect(renewed[0]!.ID).toBe(a.ID);

    expect(await consul.kv.set({ key: "npm/leader", value: "a", acquire: a.ID })).toBe(true);
    // The wire answer is `false`; node-consul hands a false body out as undefined.
    expect(await consul.kv.set({ key: "npm/leader", value: "b", acquire: b.ID })).toBeFalsy();
    const held = (await consul.kv.get("npm/leader")) as unknown as { Session: string; LockIndex: number; Value: string };
    expect(held).toMatchObject({ Session: a.ID, LockIndex: 1, Value: "a" });
    expect(await consul.kv.set({ key: "npm/leader", value: "a", release: a.ID })).toBe(true);
    expect(await consul.kv.set({ key: "npm/leader", value: "b", acquire: b.ID })).toBe(true);
    expect(((await consul.kv.get("npm/leader")) as { LockIndex: number }).LockIndex).toBe(2);
    await consul.session.destroy(b.ID);
    expect(((await consul.kv.get("npm/leader")) as { Session?: string }).Session).toBeUndefined();
    expect(await consul.session.info(b.ID)).toBeUndefined();
  });

  // node-consul's typings call ops lower-case; at run time it sends them as given, in Consul's shape.
  test("a transaction through consul.transaction.create", async () => {
    const ops = [
      { KV: { Verb: "set", Key: "npm/txn/a", Value: Buffer.from("1").toString("base64") } },
      { KV: { Verb: "get", Key: "npm/txn/a" } },
    ];
    const r = (await consul.transaction.create(ops as never)) as unknown as { Results: { KV: { Key: string; Value: string | null } }[]; Errors: null };
    expect(r.Errors).toBeNull();
    expect(r.Results[1]!.KV).toMatchObject({ Key: "npm/txn/a", Value: Buffer.from("1").toString("base64") });
    // A failed check: the client rejects with the 409 and nothing was applied.
    let status = 0;
    try {
      await consul.transaction.create([{ KV: { Verb: "set", Key: "npm/txn/b", Value: "" } }, { KV: { Verb: "check-not-exists", Key: "npm/txn/a" } }] as never);
    } catch (err) {
      status = (err as { response?: { statusCode: number } }).response?.statusCode ?? -1;
    }
    expect(status).toBe(409);
    expect(await consul.kv.get("npm/txn/b")).toBeUndefined();
  });
});

describe("python-consul (python3-consul)", () => {
  const python = "/usr/bin/python3";
  const probe = spawnSync(python, ["-c", "import consul"], { encoding: "utf8" });
  const missing = probe.status !== 0 ? (probe.error?.message ?? probe.stderr.trim().split("\n").pop()) : undefined;
  if (missing) console.log(`skipping python-consul tests: python3-consul is not installed (${missing}); apt-get install python3-consul`);

  test.skipIf(Boolean(missing))("sessions, acquire/release, contention and a blocking KV read", () => {
    const r = spawnSync(python, [join(import.meta.dir, "fixtures/python_consul_flow.py"), "127.0.0.1", String(dev.port)], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      session_ids: [36, 36],
      info: { Name: "py-a", TTL: "30s", Behavior: "release", LockDelay: 0 },
      listed: true, renew: true,
      acquire_a: true, acquire_b: false, holder: true, lock_index: 1, value: "node-a",
      release_b: false, release_a: true,
      blocking: { woke_after_release: true, session: null, index_moved: true },
      acquire_b_after: true, lock_index_after: 2,
      destroy_b: true, released_on_destroy: true, info_after_destroy: null,
    });
  }, 90_000);
});
