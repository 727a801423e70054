// Security issue 13, read side: every variant of a read is authorized like
// the plain read of what it returns, and nothing about what a token may not
// read leaks through values, key names, headers, status codes or indexes.
// A real dev node (ACLs on, default deny) with a populated state, attacked
// anonymously and with narrow tokens.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { openSse } from "../helpers/sse.ts";
import { call, tokenWith } from "../acl/helpers.ts";
import { observe, populate, SECRETS, VARIANTS, withVariant, type ReadsWorld } from "./helpers-reads.ts";

let w: ReadsWorld;
beforeAll(async () => {
  w = await populate();
}, 90_000);
afterAll(() => killAll());

const ANON = undefined;

function expectNoSecret(text: string) {
  for (const s of [SECRETS.kvValue, SECRETS.kvKey, "secret/", SECRETS.serviceMeta, SECRETS.checkOutput, SECRETS.taskEnv]) expect(text).not.toContain(s);
}

describe("KV reads", () => {
  test("?recurse&raw answers no hidden value, anonymous or with a key_prefix \"app/\" token", async () => {
    for (const token of [ANON, w.app]) {
      for (const v of VARIANTS) {
        const hidden = await observe(w.n.url, withVariant("/v1/kv/secret/?recurse&raw", v), token);
        const absent = await observe(w.n.url, withVariant("/v1/kv/nothing-here/?recurse&raw", v), token);
        expectNoSecret(hidden.body);
        expect(hidden).toEqual(absent);
      }
    }
  });

  test("?recurse from the root lists only readable keys; ?raw with ?recurse stays a JSON list (Consul)", async () => {
    const r = await call(w.n.url, "GET", "/v1/kv/?recurse&raw", w.app);
    expect(r.status).toBe(200);
    expect(r.body.map((e: { Key: string }) => e.Key)).toEqual(["app/config"]);
    expectNoSecret(JSON.stringify(r.body));
    expect((await call(w.n.url, "GET", "/v1/kv/?keys&separator=/", w.app)).body).toEqual(["app/"]);
  });

  test("?keys: a prefix with only hidden keys answers as one with no keys (status, body, headers)", async () => {
    for (const token of [ANON, w.app]) {
      for (const q of ["?keys", "?keys&separator=/", "?recurse", "?recurse&keys"]) {
        for (const v of VARIANTS) {
          const hidden = await observe(w.n.url, withVariant(`/v1/kv/secret/${q}`, v), token);
          const absent = await observe(w.n.url, withVariant(`/v1/kv/nothing-here/${q}`, v), token);
          expect({ q, v, ...hidden }).toEqual({ q, v, ...absent });
        }
      }
    }
  });

  test("HEAD answers like GET: no 200-vs-404 on hidden keys", async () => {
    for (const q of ["?keys", "?recurse"]) {
      const hidden = await observe(w.n.url, `/v1/kv/secret/${q}`, w.app, "HEAD");
      const absent = await observe(w.n.url, `/v1/kv/nothing-here/${q}`, w.app, "HEAD");
      expect(hidden).toEqual(absent);
    }
  });

  test("X-Consul-Index does not move when a hidden key changes, and a blocking read keeps waiting", async () => {
    const before = await observe(w.n.url, "/v1/kv/?recurse", w.app);
    const idx = before.headers["x-consul-index"]!;
    expect((await call(w.n.url, "PUT", "/v1/kv/secret/rotated", w.n.management, "x")).status).toBe(200);
    await call(w.n.url, "DELETE", "/v1/kv/secret/rotated", w.n.management);
    const after = await observe(w.n.url, "/v1/kv/?recurse", w.app);
    expect(after.headers["x-consul-index"]).toBe(idx);
    // Blocking on the index: a hidden write must not wake the caller with a new index.
    const held = observe(w.n.url, `/v1/kv/?recurse&index=${idx}&wait=1500ms`, w.app);
    await call(w.n.url, "PUT", "/v1/kv/secret/again", w.n.management, "y");
    expect((await held).headers["x-consul-index"]).toBe(idx);
    // A visible write does move it.
    await call(w.n.url, "PUT", "/v1/kv/app/new", w.n.management, "z");
    expect(Number((await observe(w.n.url, "/v1/kv/?recurse", w.app)).headers["x-consul-index"])).toBeGreaterThan(Number(idx));
  });

  test("a missing key the token may read: its index ignores the hidden keys below it", async () => {
    // exactKey reads the key "secret" and nothing under "secret/".
    const before = await observe(w.n.url, "/v1/kv/secret", w.exactKey);
    expect(before.status).toBe(404);
    await call(w.n.url, "PUT", "/v1/kv/secret/moved", w.n.management, "x");
    const after = await observe(w.n.url, "/v1/kv/secret", w.exactKey);
    expect(after).toEqual(before);
  });

  test("an exact key rule covers that key only, not the subtree below it (the same subtree check guards ?recurse deletes)", async () => {
    const t = await tokenWith(w.n, "exact-write", 'key "secret" { policy = "write" }');
    const del = await call(w.n.url, "DELETE", "/v1/kv/secret?recurse", t.secret);
    expect(del.status).toBe(403);
    expect((await call(w.n.url, "GET", `/v1/kv/${SECRETS.kvKey}`, w.n.management)).status).toBe(200);
  });
});

describe("?filter= runs after ACL filtering; the header depends on the token only", () => {
  const lists = [
    ["/v1/catalog/services", 'ServiceName == "vault"', 'ServiceName == "nope"'],
    ["/v1/catalog/nodes", 'Node == "nope" or Node != "nope"', 'Node == "nope"'],
    ["/v1/health/state/any", 'ServiceName == "vault"', 'ServiceName == "nope"'],
    ["/v1/health/state/critical", 'Output contains "check-output"', 'Output contains "nope"'],
    ["/v1/agent/services", 'Service == "vault"', 'Service == "nope"'],
    ["/v1/agent/checks", 'Output contains "check-output"', 'Output contains "nope"'],
    ["/v1/agent/checks", 'ServiceName == "vault"', 'ServiceName == "nope"'],
  ] as const;
  for (const [path, matchesHidden, matchesNothing] of lists) {
    test(`${path}?filter=${matchesHidden}`, async () => {
      for (const v of VARIANTS) {
        const hidden = await observe(w.n.url, withVariant(`${path}?filter=${encodeURIComponent(matchesHidden)}`, v), w.web);
        const none = await observe(w.n.url, withVariant(`${path}?filter=${encodeURIComponent(matchesNothing)}`, v), w.web);
        expectNoSecret(hidden.body);
        expect({ v, ...hidden }).toEqual({ v, ...none });
      }
    });
  }
});

describe("composite answers: each part by its own rule", () => {
  test("a node's catalog entry lists only the services the token may read", async () => {
    for (const v of VARIANTS) {
      const r = await observe(w.n.url, withVariant(`/v1/catalog/node/${w.nodeName}`, v), w.nodeReader);
      expect(r.status).toBe(200);
      const body = JSON.parse(r.body);
      expect(Object.keys(body.Services)).toEqual(["web-1"]);
      expectNoSecret(r.body);
      expect(r.headers["x-consul-results-filtered-by-acls"]).toBe("true");
    }
  });

  test("a node's health lists only the checks of readable services (node checks need node read)", async () => {
    for (const v of VARIANTS) {
      const r = await observe(w.n.url, withVariant(`/v1/health/node/${w.nodeName}`, v), w.nodeReader);
      expect(r.status).toBe(200);
      const checks = JSON.parse(r.body) as { ServiceName: string }[];
      expect(checks.every((c) => c.ServiceName === "" || c.ServiceName === "web")).toBe(true);
      expectNoSecret(r.body);
    }
  });

  test("a node's allocations: only jobs the token may read, never their env", async () => {
    for (const v of VARIANTS) {
      const r = await observe(w.n.url, withVariant(`/v1/node/${w.nodeId}/allocations`, v), w.nodeReader);
      expect(r.status).toBe(200);
      expect(r.body).not.toContain(SECRETS.taskEnv);
      expect(r.body).not.toContain(SECRETS.jobId);
    }
  });
});

describe("the event stream", () => {
  test("each event is filtered by the rule of what it describes", async () => {
    const s = await openSse(`${w.n.url}/v1/events?index=0`, { "X-Consul-Token": w.events });
    expect(s.status).toBe(200);
    // Live events too: a hidden key written now, then a visible one that tells us the stream got there.
    await call(w.n.url, "PUT", "/v1/kv/secret/live", w.n.management, "x");
    await call(w.n.url, "PUT", "/v1/kv/app/marker", w.n.management, "x");
    await s.until((msgs) => msgs.some((m) => m.data.includes("app/marker")), 15_000);
    await s.cancel();
    const seen = s.raw();
    expect(seen).toContain("app/config");
    expect(seen).toContain('"web"');
    expectNoSecret(seen);
    expect(seen).not.toContain("vault");
    expect(seen).not.toContain(SECRETS.jobId);
  });
});
