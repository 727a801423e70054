// Intentions enforced by the invoke plugin on a dev node with ACLs on
// (default deny): the caller is its token's service identity; an intention
// denying it gets 403 JSON naming the intention, on the proxy listener and
// the API route alike; an allowing one gets through; no token, no call.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getJson, killAll } from "../helpers/proc.ts";
import { call, type AclNode } from "../acl/helpers.ts";
import { killBackends, startBackend } from "./helpers.ts";
import { intentionFixture } from "./intention-fixture.ts";

let n: AclNode;
let port = 0;
let web = "";

beforeAll(async () => {
  ({ n, web, port } = await intentionFixture(startBackend));
}, 30_000);

afterAll(async () => {
  await killBackends();
  await killAll();
});

describe("intentions", () => {
  test("a caller an intention denies gets 403 with the reason, on the listener and the API route", async () => {
    const r = await getJson(`http://127.0.0.1:${port}/`, { headers: { host: "files", "x-consul-token": web } });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: 'calling "files" is not allowed: intention web => files (deny)', code: "INTENTION_DENIED", reason: "intention web => files (deny)" });
    const api = await getJson(`${n.url}/v1/invoke/files/`, { headers: { "x-consul-token": web } });
    expect([api.status, api.body.code, api.body.reason]).toEqual([403, "INTENTION_DENIED", "intention web => files (deny)"]);
  });

  test("an allowing intention lets the call through; the token does not reach the instance", async () => {
    const r = await fetch(`http://127.0.0.1:${port}/echo`, { headers: { host: "events", "x-consul-token": web } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { id: string; headers: Record<string, string> };
    expect(body.id).toBe("events");
    expect(body.headers["x-consul-token"]).toBeUndefined();
  });

  test("?token= in the target, plain or percent-encoded, is the caller on the listener as on the API; the instance never sees it", async () => {
    for (const q of [`token=${web}`, `tok%65n=${web}`, `keep=1&%74oken=${web}`]) {
      const r = await fetch(`http://127.0.0.1:${port}/echo?${q}`, { headers: { host: "events" } });
      expect(r.status, `${q} ${r.status === 200 ? "" : await r.clone().text()}`).toBe(200);
      const body = (await r.json()) as { id: string; path: string };
      expect(body.id).toBe("events");
      expect(body.path).not.toContain(web);
    }
  });

  test("Authorization: Bearer names the caller when it holds a corral token; any other bearer is the backend's and passes on", async () => {
    const ok = await fetch(`http://127.0.0.1:${port}/echo`, { headers: { host: "events", authorization: `Bearer ${web}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { headers: Record<string, string> }).headers.authorization).toBeUndefined();
    const jwt = "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln";
    const anon = await getJson(`http://127.0.0.1:${port}/`, { headers: { host: "events", authorization: jwt } });
    expect([anon.status, anon.body.reason]).toEqual([403, "no intention matches (no service identity) => events: default policy deny"]);
    const both = await fetch(`http://127.0.0.1:${port}/echo`, { headers: { host: "events", authorization: jwt, "x-consul-token": web } });
    expect(both.status).toBe(200);
    expect(((await both.json()) as { headers: Record<string, string> }).headers.authorization).toBe(jwt);
  });

  test("no token: no identity, and the default policy (deny) decides", async () => {
    const r = await getJson(`http://127.0.0.1:${port}/`, { headers: { host: "events" } });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("INTENTION_DENIED");
  });
});
