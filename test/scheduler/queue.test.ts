import { describe, expect, test } from "bun:test";
import { dominantShare, drfOrder, jobDemand } from "../../core/scheduler/drf.ts";
import { EvalQueue, type Evaluation } from "../../core/scheduler/queue.ts";
import { indexSnapshot, removeAllocation } from "../../core/scheduler/cluster-index.ts";
import { schedule } from "../../core/scheduler/schedule.ts";
import { alloc, job, node } from "./helpers.ts";

const ev = (id: string, priority = 50, namespace = "default", jobId = id): Evaluation => ({ id, namespace, jobId, priority });
const drain = (q: EvalQueue, fairness?: Parameters<EvalQueue["dequeue"]>[0]) => {
  const out: string[] = [];
  for (let e = q.dequeue(fairness); e; e = q.dequeue(fairness)) out.push(e.id);
  return out;
};

describe("EvalQueue ordering", () => {
  test("higher priority first, FIFO within a priority", () => {
    const q = new EvalQueue();
    for (const e of [ev("a", 50), ev("b", 80), ev("c", 50), ev("d", 80), ev("e", 10)]) q.enqueue(e);
    expect(q.ready().map((e) => e.id)).toEqual(["b", "d", "a", "c", "e"]);
    expect(drain(q)).toEqual(["b", "d", "a", "c", "e"]);
    expect(q.dequeue()).toBeUndefined();
  });

  test("FIFO across namespaces without fairness input", () => {
    const q = new EvalQueue();
    for (const e of [ev("a", 50, "x"), ev("b", 50, "y"), ev("c", 50, "x")]) q.enqueue(e);
    expect(drain(q)).toEqual(["a", "b", "c"]);
  });

  test("duplicate ids are refused", () => {
    const q = new EvalQueue();
    expect(q.enqueue(ev("a"))).toBe(true);
    expect(q.enqueue(ev("a"))).toBe(false);
    expect(q.readyCount).toBe(1);
  });

  test("with fairness input, the namespace with the lower dominant share goes first within a priority", () => {
    const q = new EvalQueue();
    for (const e of [ev("big-1", 50, "big"), ev("small-1", 50, "small"), ev("urgent", 90, "big"), ev("big-2", 50, "big")]) q.enqueue(e);
    const fairness = {
      capacity: { cpuMhz: 100_000, memoryMb: 100_000 },
      usage: { big: { cpuMhz: 60_000, memoryMb: 10_000 }, small: { cpuMhz: 5_000, memoryMb: 20_000 } },
    };
    expect(drain(q, fairness)).toEqual(["urgent", "small-1", "big-1", "big-2"]);
  });
});

describe("blocked evaluations", () => {
  const need = { cpuMhz: 2000, memoryMb: 1024 };

  test("parked until a capacity change that fits, then released to the ready queue", () => {
    const q = new EvalQueue();
    expect(q.block(ev("e1", 50, "default", "web"), [need])).toBe(true);
    expect(q.blockedCount).toBe(1);
    expect(q.capacityChanged({ nodeId: "n1", free: { cpuMhz: 1000, memoryMb: 8192 } })).toEqual([]);
    expect(q.readyCount).toBe(0);
    const released = q.capacityChanged({ nodeId: "n2", free: { cpuMhz: 4000, memoryMb: 2048 } });
    expect(released.map((e) => e.id)).toEqual(["e1"]);
    expect(q.blockedCount).toBe(0);
    expect(q.dequeue()?.id).toBe("e1");
  });

  test("one parked evaluation per job; a newer one replaces it", () => {
    const q = new EvalQueue();
    q.block(ev("e1", 50, "default", "web"), [need]);
    q.block(ev("e2", 50, "default", "web"), [need]);
    expect(q.blocked().map((e) => e.id)).toEqual(["e2"]);
    q.enqueue(ev("e3", 50, "default", "web"));
    expect(q.blockedCount).toBe(0);
  });

  test("a change that raced with the evaluation releases it at once", () => {
    const q = new EvalQueue();
    q.capacityChanged({ nodeId: "n1", free: { cpuMhz: 8000, memoryMb: 8192 }, index: 12 });
    expect(q.block(ev("e1", 50, "default", "web"), [need], 10)).toBe(false);
    expect(q.dequeue()?.id).toBe("e1");
    expect(q.block(ev("e2", 50, "default", "web"), [need], 12)).toBe(true);
  });

  test("unblockJob drops the parked evaluation", () => {
    const q = new EvalQueue();
    q.block(ev("e1", 50, "default", "web"), [need]);
    expect(q.unblockJob("default", "web")?.id).toBe("e1");
    expect(q.capacityChanged({ nodeId: "n", free: { cpuMhz: 1e6, memoryMb: 1e6 } })).toEqual([]);
  });
});

describe("DRF", () => {
  const capacity = { cpuMhz: 1000, memoryMb: 1000 };

  test("dominant share is the largest per-resource share, over the weight", () => {
    expect(dominantShare({ cpuMhz: 300, memoryMb: 100 }, capacity)).toBe(0.3);
    expect(dominantShare({ cpuMhz: 100, memoryMb: 500 }, capacity)).toBe(0.5);
    expect(dominantShare({ cpuMhz: 100, memoryMb: 500 }, capacity, 2)).toBe(0.25);
  });

  test("orders by ascending dominant share, filling progressively", () => {
    const pending = [
      { id: "a1", namespace: "a", demand: { cpuMhz: 100, memoryMb: 0 } },
      { id: "a2", namespace: "a", demand: { cpuMhz: 100, memoryMb: 0 } },
      { id: "b1", namespace: "b", demand: { cpuMhz: 0, memoryMb: 300 } },
      { id: "b2", namespace: "b", demand: { cpuMhz: 0, memoryMb: 300 } },
      { id: "c1", namespace: "c" },
    ];
    const usage = { a: { cpuMhz: 200, memoryMb: 0 }, b: { cpuMhz: 0, memoryMb: 100 } };
    // shares: a .2, b .1, c 0 → c1 (0); b1 (.1 → .4); a1 (.2 → .3); a2 (.3 → .4); b2 (.4, tie with a but b's item came first)
    expect(drfOrder(pending, { usage, capacity }).map((p) => p.id)).toEqual(["c1", "b1", "a1", "a2", "b2"]);
  });

  test("weights give a namespace a larger entitlement", () => {
    const pending = [{ id: "a", namespace: "a" }, { id: "b", namespace: "b" }];
    const usage = { a: { cpuMhz: 400, memoryMb: 0 }, b: { cpuMhz: 300, memoryMb: 0 } };
    expect(drfOrder(pending, { usage, capacity }).map((p) => p.id)).toEqual(["b", "a"]);
    expect(drfOrder(pending, { usage, capacity, weights: { a: 2 } }).map((p) => p.id)).toEqual(["a", "b"]);
  });

  test("jobDemand sums count × task resources", () => {
    expect(jobDemand(job({ count: 3, cpu: 500, mem: 256 }))).toEqual({ cpuMhz: 1500, memoryMb: 768 });
  });
});

describe("blocked → capacity frees → placed", () => {
  test("the whole loop, as the leader would drive it", () => {
    const filler = alloc("a", { cpu: 4000, mem: 8192 });
    const index = indexSnapshot({ nodes: [node("a")], allocations: [filler] });
    const j = job({ id: "web", cpu: 2000, mem: 2048 });
    const q = new EvalQueue();
    q.enqueue(ev("e1", j.priority, j.namespace, j.id));

    const first = q.dequeue()!;
    const plan = schedule(index, j, first.id);
    expect(plan.blocked).toBe(true);
    q.block(first, plan.failedGroups.map((g) => g.resources));

    removeAllocation(index, filler.id); // the filler finished
    const n = index.byId.get("a")!;
    const free = { cpuMhz: n.view.resources.cpuMhz - n.usedCpuMhz, memoryMb: n.view.resources.memoryMb - n.usedMemoryMb };
    expect(q.capacityChanged({ nodeId: "a", free }).map((e) => e.id)).toEqual(["e1"]);

    const again = q.dequeue()!;
    const plan2 = schedule(index, j, again.id);
    expect(plan2.blocked).toBe(false);
    expect(plan2.placements).toMatchObject([{ nodeId: "a" }]);
  });
});
