// Paged and filtered lists (?per_page, ?next_token, ?filter) against a real
// dev node with ACLs on: every job answered exactly once across pages even
// with jobs registered between the requests; a narrow token's pages hold
// only what it may read and its next token never names a hidden job; filter
// mistakes are 400 JSON naming the position; Consul's session list keeps its
// unpaginated shape.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { BUN, ENTRY, ROOT, killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
let narrow = "";

const job = (id: string, meta: Record<string, string> = {}) => ({
  id, meta, groups: [{ name: "g", count: 0, tasks: [{ name: "t", command: "/bin/true", resources: { cpu: 10, memory: 16 } }] }],
});

async function register(id: string, meta: Record<string, string> = {}): Promise<void> {
  const r = await call(n.url, "POST", "/v1/jobs", n.management, job(id, meta));
  if (r.status !== 200) throw new Error(`register ${id}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Every page of `path` (which has ?per_page): the items and the tokens that led to them. */
async function allPages(path: string, token: string, between?: (page: number) => Promise<void>) {
  const items: any[] = [];
  const tokens: string[] = [];
  let next: string | null = null;
  for (let page = 0; page < 100; page++) {
    const r = await call(n.url, "GET", path + (next ? `&next_token=${encodeURIComponent(next)}` : ""), token);
    expect(r.status).toBe(200);
    items.push(...(r.body as any[]));
    next = r.headers.get("x-corral-nexttoken");
    expect(r.headers.get("x-nomad-nexttoken")).toBe(next);
    if (!next) return { items, tokens, pages: page + 1 };
    tokens.push(next);
    await between?.(page);
  }
  throw new Error("more than 100 pages");
}

beforeAll(async () => {
  n = await startAclNode();
  // 250 jobs: team-a-000..124 and team-b-000..124 (registered interleaved, so the narrow token's jobs are spread out).
  for (let i = 0; i < 125; i++) {
    const k = String(i).padStart(3, "0");
    await register(`team-a-${k}`, { team: "a", n: k });
    await register(`team-b-${k}`, { team: "b", n: k });
  }
  narrow = (await tokenWith(n, "team-a", `job_prefix "team-a-" { policy = "read" }`)).secret;
}, 180_000);

afterAll(async () => {
  await killAll();
});

describe("paged lists", () => {
  test("250 jobs with per_page=100: three pages, each job once, even with jobs registered between pages", async () => {
    const added: string[] = [];
    const { items, pages } = await allPages("/v1/jobs?per_page=100", n.management, async (page) => {
      // Before the cut and after it: "team-a-000x" sorts into the first page, "zz" after everything.
      for (const id of [`team-a-000x${page}`, `zz-${page}`]) { await register(id); added.push(id); }
    });
    const ids = items.map((j) => j.id);
    expect(new Set(ids).size).toBe(ids.length);
    const original = ids.filter((id) => /^team-[ab]-\d{3}$/.test(id));
    expect(original.length).toBe(250);
    expect(pages).toBeGreaterThanOrEqual(3);
    // Ones inserted after the cursor passed their place are not seen; ones ahead of it are, once.
    expect(ids).toContain("zz-0");
    expect(ids).not.toContain("team-a-000x1");
    expect(ids).toEqual([...ids].sort());
    // Without per_page the list is whole, as before paging existed; no next token.
    const whole = await call(n.url, "GET", "/v1/jobs", n.management);
    expect((whole.body as any[]).length).toBe(250 + added.length);
    expect(whole.headers.get("x-corral-nexttoken")).toBeNull();
  }, 120_000);

  test("a narrow token's pages are full of its own jobs, and no next token names a hidden one", async () => {
    const { items, tokens } = await allPages("/v1/jobs?per_page=50", narrow);
    const ids = items.map((j) => j.id);
    expect(ids.every((id) => id.startsWith("team-a-"))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => /^team-a-\d{3}$/.test(id)).length).toBe(125);
    // Full pages: 125+ readable jobs at 50 a page.
    const first = await call(n.url, "GET", "/v1/jobs?per_page=50", narrow);
    expect((first.body as any[]).length).toBe(50);
    for (const t of tokens) {
      const key = JSON.parse(Buffer.from(t, "base64url").toString("utf8"));
      expect(key[1]).toStartWith("team-a-");
    }
    // The evaluations list pages the same way, with hidden jobs' evaluations left out before the cut.
    const evals = await allPages("/v1/evaluations?per_page=40", narrow);
    expect(evals.items.length).toBeGreaterThan(40);
    expect(evals.items.every((e) => e.jobId.startsWith("team-a-"))).toBe(true);
    expect(new Set(evals.items.map((e) => e.id)).size).toBe(evals.items.length);
  }, 60_000);

  test("?filter selects by field and Meta, before the page is cut", async () => {
    const r = await call(n.url, "GET", `/v1/jobs?per_page=10&filter=${encodeURIComponent('Meta.team == "b" and Meta.n matches "^00[0-9]$"')}`, n.management);
    expect(r.status).toBe(200);
    expect((r.body as any[]).map((j) => j.id)).toEqual(Array.from({ length: 10 }, (_, i) => `team-b-00${i}`));
    expect(r.headers.get("x-corral-nexttoken")).toBeNull();
    const notIn = await call(n.url, "GET", `/v1/jobs?filter=${encodeURIComponent('ID contains "team-b-12" and not Meta.n == "120"')}`, n.management);
    expect((notIn.body as any[]).map((j) => j.id)).toEqual(["team-b-121", "team-b-122", "team-b-123", "team-b-124"]);
    const nodes = await call(n.url, "GET", `/v1/nodes?filter=${encodeURIComponent('Status == "ready"')}&per_page=1`, n.management);
    expect((nodes.body as any[]).length).toBe(1);
  });

  test("malformed filters, page sizes and tokens are 400 JSON naming the problem", async () => {
    const cases: [string, string, string][] = [
      ['Status = "running"', "INVALID_FILTER", "position 8"],
      ['Status == "running" and', "INVALID_FILTER", "position 24"],
      ['(Status == "x"', "INVALID_FILTER", "position 15"],
      ['Name matches "("', "INVALID_FILTER", "position 14"],
      ['Status == "unterminated', "INVALID_FILTER", "position 11"],
    ];
    for (const [expr, code, where] of cases) {
      for (const path of ["/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/nodes", "/v1/deployments", "/v1/vars", "/v1/audit"]) {
        const r = await call(n.url, "GET", `${path}?filter=${encodeURIComponent(expr)}`, n.management);
        expect([path, expr, r.status, r.body.code]).toEqual([path, expr, 400, code]);
        expect(r.body.error).toContain(where);
      }
    }
    for (const q of ["per_page=0", "per_page=abc", "per_page=10001", "next_token=!!", `next_token=${Buffer.from('["a"]').toString("base64url")}`]) {
      const r = await call(n.url, "GET", `/v1/jobs?${q}`, n.management);
      expect([q, r.status, typeof r.body.error, typeof r.body.code]).toEqual([q, 400, "string", "string"]);
    }
  });

  test("a paged blocking list waits for a change, then answers the page asked for", async () => {
    const first = await call(n.url, "GET", "/v1/jobs?per_page=5", n.management);
    const index = Number(first.headers.get("x-corral-index"));
    const started = Date.now();
    const waiting = call(n.url, "GET", `/v1/jobs?per_page=5&next_token=${first.headers.get("x-corral-nexttoken")}&index=${index}&wait=20s`, n.management);
    await Bun.sleep(500);
    await register("aa-wakes-the-wait");
    const r = await waiting;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(Number(r.headers.get("x-corral-index"))).toBeGreaterThan(index);
    // The second page, from the first page's token: five items after the first page's, none of them repeated.
    const firstIds = (first.body as any[]).map((j) => j.id);
    expect((r.body as any[]).length).toBe(5);
    expect((r.body as any[]).every((j) => !firstIds.includes(j.id) && j.id > firstIds[4])).toBe(true);
    expect(r.headers.get("x-corral-nexttoken")).not.toBeNull();
  });

  test("the CLI fetches every page, or one with --per-page (the next token on stderr), and filters on the server", async () => {
    const cli = (...args: string[]) => spawnSync(BUN, [ENTRY, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CORRAL_ADDR: n.url, CORRAL_TOKEN: n.management } });
    const all = cli("job", "status", "--json");
    expect(all.status, all.stderr).toBe(0);
    const total = (await call(n.url, "GET", "/v1/jobs", n.management)).body.length;
    expect(JSON.parse(all.stdout).length).toBe(total);
    expect(total).toBeGreaterThan(200); // three of the CLI's own pages of 100: it followed the tokens
    const ids = (JSON.parse(all.stdout) as any[]).map((j) => j.id);
    const one = cli("job", "status", "--json", "--per-page", "3");
    expect(JSON.parse(one.stdout).map((j: any) => j.id)).toEqual(ids.slice(0, 3));
    const token = /--page-token (\S+)/.exec(one.stderr)?.[1];
    expect(token).toBeDefined();
    const next = cli("job", "status", "--json", "--per-page", "2", "--page-token", token!);
    expect(JSON.parse(next.stdout).map((j: any) => j.id)).toEqual(ids.slice(3, 5));
    const filtered = cli("job", "status", "--json", "--filter", 'Meta.n == "007"');
    expect(JSON.parse(filtered.stdout).map((j: any) => j.id)).toEqual(["team-a-007", "team-b-007"]);
    const bad = cli("job", "status", "--filter", "Meta.n =");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("position 8");
  }, 60_000);

  test("Consul's session list keeps its unpaginated shape", async () => {
    const r = await call(n.url, "GET", "/v1/session/list?per_page=1", n.management);
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body)).toBe(true);
    expect(r.headers.get("x-corral-nexttoken")).toBeNull();
  });
});
