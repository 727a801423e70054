// An agent's blocking query on its node's allocations (node-alloc-answers.ts):
// each allocation is read in full and serialized only when its modify index
// moved since the node's last answer (every allocation of the node was read
// and serialized again on every change before), and the agent gets the same
// bytes: on a real dev node, the node's answer is exactly the JSON of each
// allocation as GET /v1/allocation/{id} shows it, joined into one array,
// before and after a change.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NodeAllocAnswers, type AllocStamp, type NodeAllocSource } from "../../core/api/node-alloc-answers.ts";
import type { AllocRow } from "../../core/store/schema-jobs.ts";
import { eventually, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

describe("NodeAllocAnswers", () => {
  const row = (id: string, nodeId: string, modifyIndex: number, jobId = "web") =>
    ({ id, nodeId, jobId, modifyIndex, createIndex: Number(id.slice(1)), groupSpec: { name: "g", big: "x".repeat(50) }, clientStatus: "pending" }) as unknown as AllocRow;
  function source(rows: Map<string, AllocRow>, names: Map<string, string>): NodeAllocSource & { fullReads: number } {
    const onNode = (n: string) => [...rows.values()].filter((r) => r.nodeId === n).sort((a, b) => a.createIndex - b.createIndex);
    const src = {
      fullReads: 0,
      stamps: (n: string): AllocStamp[] => onNode(n).map((r) => ({ id: r.id, jobId: r.jobId, modifyIndex: r.modifyIndex })),
      rows: (n: string) => (src.fullReads++, onNode(n)),
      row: (id: string) => rows.get(id),
      nodeName: (n: string) => names.get(n) ?? null,
      view: (r: AllocRow, name: string | null) => ({ ...r, nodeName: name }),
    };
    return src;
  }
  const expected = (src: NodeAllocSource, n: string) => JSON.stringify(src.rows(n).map((r) => src.view(r, src.nodeName(n))));
  const text = (parts: string[]) => `[${parts.join(",")}]`;

  test("only allocations changed since the node's last answer are read again; the bytes are those of the whole list", () => {
    const rows = new Map<string, AllocRow>();
    const names = new Map([["n1", "one"], ["n2", "two"]]);
    for (let i = 1; i <= 20; i++) rows.set(`a${i}`, row(`a${i}`, i % 2 ? "n1" : "n2", i));
    const src = source(rows, names);
    const answers = new NodeAllocAnswers(src);

    expect(text(answers.answer("n1").parts)).toBe(expected(src, "n1"));
    expect(answers.rowsRead).toBe(10); // a first answer reads the node once
    expect(text(answers.answer("n1").parts)).toBe(expected(src, "n1"));
    expect(answers.rowsRead).toBe(10); // nothing changed: nothing read

    rows.set("a3", { ...rows.get("a3")!, modifyIndex: 30, clientStatus: "running" } as AllocRow); // a status report
    rows.set("a21", row("a21", "n1", 31)); // a placement
    rows.delete("a5"); // garbage collected
    expect(text(answers.answer("n1").parts)).toBe(expected(src, "n1"));
    expect(answers.rowsRead).toBe(12);
    expect(answers.size()).toBe(10);

    // A token that sees only some jobs gets those, from the same JSON.
    rows.set("a7", { ...rows.get("a7")!, jobId: "secret", modifyIndex: 32 } as AllocRow);
    const kept = answers.answer("n1", (s) => s.filter((x) => x.jobId !== "secret"));
    expect(text(kept.parts)).toBe(JSON.stringify(src.rows("n1").filter((r) => r.jobId !== "secret").map((r) => src.view(r, "one"))));

    // The node renamed: its name is in every allocation's JSON.
    names.set("n1", "uno");
    expect(text(answers.answer("n1").parts)).toBe(expected(src, "n1"));
  });

  test("kept JSON is bounded: the nodes answered least recently are dropped first", () => {
    const rows = new Map<string, AllocRow>();
    for (let i = 1; i <= 30; i++) rows.set(`a${i}`, row(`a${i}`, `n${i % 3}`, i));
    const src = source(rows, new Map());
    const answers = new NodeAllocAnswers(src, 25);
    for (const n of ["n0", "n1", "n2"]) expect(text(answers.answer(n).parts)).toBe(expected(src, n));
    expect(answers.size()).toBe(20); // n0 dropped
    const reads = answers.rowsRead;
    answers.answer("n2");
    expect(answers.rowsRead).toBe(reads); // kept
    expect(text(answers.answer("n0").parts)).toBe(expected(src, "n0"));
    expect(answers.rowsRead).toBe(reads + 10); // read again in full
    expect(answers.size()).toBeLessThanOrEqual(25);
  });
});

describe("GET /v1/node/{id}/allocations on a real dev node", () => {
  let dev: CorralProcess;
  beforeAll(async () => {
    dev = await startCorral({
      role: "dev",
      config: `[plugins]\nenabled = ["probe"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n`,
    });
    await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 10_000);
  }, 30_000);
  afterAll(() => killAll());

  test("the answer is every allocation's own JSON, in order, before and after a change", async () => {
    const nodeId = (await getJson<any[]>(dev.url + "/v1/nodes")).body[0].id;
    const doc = { id: "web", groups: [{ name: "web", count: 3, tasks: [{ name: "srv", command: "/bin/true", resources: { cpu: 100, memory: 64 } }] }] };
    const reg = await getJson(dev.url + "/v1/jobs", { method: "POST", body: JSON.stringify(doc), headers: { "content-type": "application/json" } });
    expect(reg.status).toBe(200);
    const live = () => eventually(async () => {
      const list = (await getJson<any[]>(`${dev.url}/v1/job/web/allocations`)).body.filter((a) => a.desiredStatus === "run");
      return list.length === 3 ? list : undefined;
    }, 10_000);
    const same = async () => {
      const res = await fetch(`${dev.url}/v1/node/${nodeId}/allocations`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = await res.text();
      const ids: string[] = JSON.parse(body).map((a: { id: string }) => a.id);
      const each = await Promise.all(ids.map(async (id) => (await fetch(`${dev.url}/v1/allocation/${id}`)).text()));
      expect(body).toBe(`[${each.join(",")}]`);
      return { ids, index: Number(res.headers.get("x-corral-index")) };
    };
    await live();
    const first = await same();
    expect(first.ids.length).toBe(3);

    // One stopped: a replacement is placed. A blocking query held at the old index returns with both changes.
    const held = fetch(`${dev.url}/v1/node/${nodeId}/allocations?index=${first.index}&wait=10s`);
    const stop = await getJson(`${dev.url}/v1/allocation/${first.ids[0]}/stop`, { method: "PUT" });
    expect(stop.status).toBe(200);
    const woke = await held;
    expect(Number(woke.headers.get("x-corral-index"))).toBeGreaterThan(first.index);
    await eventually(async () => (await getJson<any[]>(`${dev.url}/v1/node/${nodeId}/allocations`)).body.length === 4, 10_000);
    const after = await same();
    expect(after.ids.length).toBe(4);
    const stopped = (await getJson<any[]>(`${dev.url}/v1/node/${nodeId}/allocations`)).body.find((a) => a.id === first.ids[0]);
    expect(stopped.desiredStatus).toBe("stop");
  }, 60_000);
});
