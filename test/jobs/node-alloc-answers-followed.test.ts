// Agents' answers followed from the state machine's published changes
// (node-alloc-answers.ts `changed`, Fsm.onAllocChanges): a kept node's answer
// reads only the allocations written since its last answer, and no longer
// reads the node's (id, job, modify index) list each time; a deletion on the
// node or a restore reads it in full again. The bytes stay those of the whole
// list, in its order (create index, then id by code point as SQLite sorts
// text). On a real dev node, every answer through a job's life — placed,
// running, finished, stopped, purged and collected — is each allocation's own
// GET /v1/allocation/{id} joined.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NodeAllocAnswers, type AllocStamp, type NodeAllocSource } from "../../core/api/node-alloc-answers.ts";
import type { AllocRow } from "../../core/store/schema-jobs.ts";
import { eventually, getJson, killAll, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";

describe("NodeAllocAnswers, followed", () => {
  const row = (id: string, nodeId: string, modifyIndex: number, createIndex: number) =>
    ({ id, nodeId, jobId: "web", modifyIndex, createIndex, groupSpec: { name: "g" }, clientStatus: "pending" }) as unknown as AllocRow;
  /** SQLite's order: create index, then id as UTF-8 bytes. */
  const sqliteOrder = (a: AllocRow, b: AllocRow) => a.createIndex - b.createIndex || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id));
  function source(rows: Map<string, AllocRow>): NodeAllocSource & { rowReads: number } {
    const onNode = (n: string) => [...rows.values()].filter((r) => r.nodeId === n).sort(sqliteOrder);
    const src = {
      rowReads: 0,
      stamps: (n: string): AllocStamp[] => onNode(n).map((r) => ({ id: r.id, jobId: r.jobId, modifyIndex: r.modifyIndex })),
      rows: (n: string) => onNode(n),
      row: (id: string) => (src.rowReads++, rows.get(id)),
      nodeName: () => "one",
      view: (r: AllocRow, name: string | null) => ({ ...r, nodeName: name }),
    };
    return src;
  }
  const expected = (src: NodeAllocSource, n: string) => JSON.stringify(src.rows(n).map((r) => src.view(r, "one")));
  const text = (parts: string[]) => `[${parts.join(",")}]`;

  test("a kept node's answer reads only what changed, in the read's order; a deletion or a restore reads it again", () => {
    const rows = new Map<string, AllocRow>();
    // Same create index (one plan): ids decide, by code point ("\u{1F600}" after "\uFFFD", unlike JS's <).
    const ids = ["b", "a", "\uFFFD", "\u{1F600}", "c"];
    ids.forEach((id, i) => rows.set(id, row(id, "n1", 10, i < 4 ? 10 : 5)));
    rows.set("x", row("x", "n2", 10, 1));
    const src = source(rows);
    const answers = new NodeAllocAnswers(src, undefined, true);
    expect(text(answers.answer("n1").parts)).toBe(expected(src, "n1"));
    expect(answers.stampReads).toBe(1);
    expect(answers.answer("n1").all.map((s) => s.id)).toEqual(["c", "a", "b", "\uFFFD", "\u{1F600}"]);

    // An entry writes one of n1's and places another; one of n2's changes too (n2 not kept: ignored).
    rows.set("a", { ...rows.get("a")!, modifyIndex: 11, clientStatus: "running" } as AllocRow);
    rows.set("d", row("d", "n1", 11, 11));
    rows.set("x", { ...rows.get("x")!, modifyIndex: 11 } as AllocRow);
    answers.changed({ index: 11, written: [{ id: "a", nodeId: "n1" }, { id: "d", nodeId: "n1" }, { id: "x", nodeId: "n2" }], deletedOn: [] });
    const reads = src.rowReads;
    const read = answers.rowsRead;
    const out = answers.answer("n1");
    expect(text(out.parts)).toBe(expected(src, "n1"));
    expect(out.all.map((s) => [s.id, s.modifyIndex])).toEqual([["c", 10], ["a", 11], ["b", 10], ["\uFFFD", 10], ["\u{1F600}", 10], ["d", 11]]);
    expect(answers.stampReads).toBe(1); // no (id, job, modify index) read of the node
    expect(src.rowReads - reads).toBe(2); // just the two written
    expect(answers.rowsRead - read).toBe(2);
    // Nothing changed since: nothing read.
    expect(text(answers.answer("n1").parts)).toBe(expected(src, "n1"));
    expect(src.rowReads - reads).toBe(2);

    // A deletion on the node: read in full again.
    rows.delete("b");
    answers.changed({ index: 12, written: [], deletedOn: ["n1"] });
    expect(text(answers.answer("n1").parts)).toBe(expected(src, "n1"));
    expect(answers.stampReads).toBe(2);

    // A restore: every node read again.
    rows.set("c", { ...rows.get("c")!, modifyIndex: 3 } as AllocRow);
    answers.changed("reset");
    expect(answers.size()).toBe(0);
    expect(text(answers.answer("n1").parts)).toBe(expected(src, "n1"));
    expect(answers.stampReads).toBe(3);
  });
});

describe("GET /v1/node/{id}/allocations followed, on a real dev node", () => {
  let dev: CorralProcess;
  beforeAll(async () => {
    dev = await startCorral({
      role: "dev",
      config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\n`,
    });
    await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 10_000);
  }, 30_000);
  afterAll(() => killAll());

  test("every answer through placements, reports, a purge's stops and their collection is each allocation's own JSON", async () => {
    const nodeId = (await getJson<any[]>(dev.url + "/v1/nodes")).body[0].id;
    const post = (doc: unknown) => getJson(dev.url + "/v1/jobs", { method: "POST", body: JSON.stringify(doc), headers: { "content-type": "application/json" } });
    // The answer, then each allocation's GET: the agent's reports land at any moment, so a report
    // between the two is retried; an answer left stale by a missed change would never match.
    const same = async () => {
      let last = "";
      for (let attempt = 0; attempt < 50; attempt++) {
        const res = await fetch(`${dev.url}/v1/node/${nodeId}/allocations`);
        expect(res.status).toBe(200);
        const body = await res.text();
        const ids: string[] = JSON.parse(body).map((a: { id: string }) => a.id);
        const each = await Promise.all(ids.map(async (id) => (await fetch(`${dev.url}/v1/allocation/${id}`)).text()));
        if (body === `[${each.join(",")}]`) return JSON.parse(body) as { id: string; jobId: string; clientStatus: string; desiredStatus: string }[];
        last = body;
        await sleep(100);
      }
      throw new Error(`the node's answer never matched its allocations' own JSON: ${last.slice(0, 500)}`);
    };
    // A service that keeps running and a batch job that finishes.
    expect((await post({ id: "svc", groups: [{ name: "web", count: 2, tasks: [{ name: "srv", command: "/bin/sleep", args: ["300"], resources: { cpu: 100, memory: 64 } }] }] })).status).toBe(200);
    await same();
    expect((await post({ id: "once", type: "batch", groups: [{ name: "b", count: 2, tasks: [{ name: "t", command: "/bin/true", resources: { cpu: 100, memory: 64 } }] }] })).status).toBe(200);
    await same();
    await eventually(async () => {
      const list = await same();
      const svc = list.filter((a) => a.jobId === "svc" && a.clientStatus === "running").length;
      const done = list.filter((a) => a.jobId === "once" && a.clientStatus === "complete").length;
      return svc === 2 && done === 2;
    }, 20_000);
    // Scale the service up: placements on a kept node.
    expect((await post({ id: "svc", groups: [{ name: "web", count: 3, tasks: [{ name: "srv", command: "/bin/sleep", args: ["300"], resources: { cpu: 100, memory: 64 } }] }] })).status).toBe(200);
    await same();
    await eventually(async () => (await same()).filter((a) => a.jobId === "svc" && a.clientStatus === "running").length === 3, 20_000);
    // Purge the service: each allocation told to stop, reported complete by the agent, then collected
    // (the report's entry deletes a purged job's stopped allocations: a deletion on the kept node).
    expect((await getJson(`${dev.url}/v1/job/svc?purge=true`, { method: "DELETE" })).status).toBe(200);
    await eventually(async () => (await same()).every((a) => a.jobId !== "svc"), 30_000);
    expect((await same()).filter((a) => a.jobId === "once").length).toBe(2);
  }, 120_000);
});
