// Issue 19, point 4 (the test half): a fast path must answer exactly as the
// route it shadows. The leader's heartbeat fast path (core/cluster/heartbeat-fast.ts)
// takes a signed POST /v1/cluster/heartbeat that declares its length; the
// same request sent chunked (no Content-Length) goes to the route table. A
// corpus of valid and invalid bodies is sent both ways to a real dev node;
// status, body and Content-Type must be the same.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";

const SECRET = "fast-path-corpus-secret-0123456789";
let node: CorralProcess;
afterAll(killAll);
beforeAll(async () => {
  node = await startCorral({ role: "dev", config: `[cluster]\nsecret = "${SECRET}"\n` });
}, 60_000);

const UNKNOWN = "11111111-1111-4111-8111-111111111111";
const CORPUS: [string, string][] = [
  ["an unknown node", JSON.stringify({ id: UNKNOWN })],
  ["not JSON", "{ not json"],
  ["a JSON array", "[]"],
  ["no id", "{}"],
  ["an id that is no UUID", JSON.stringify({ id: "x" })],
  ["a very long id", JSON.stringify({ id: "x".repeat(4000) })],
  ["a wrong sample", JSON.stringify({ id: UNKNOWN, sample: "hot" })],
  ["a duplicate key", `{"id":"${UNKNOWN}","id":"${UNKNOWN}"}`],
];

async function send(body: string, chunked: boolean) {
  const host = `127.0.0.1:${node.port}`;
  const path = "/v1/cluster/heartbeat";
  const headers: Record<string, string> = {
    "content-type": "application/json",
    [SIGNATURE_HEADER]: signRequest({ secret: SECRET, node: "corpus" }, "POST", path, body, { to: host }),
  };
  const bytes = new TextEncoder().encode(body);
  const res = await fetch(node.url + path, {
    method: "POST", headers,
    body: chunked ? new ReadableStream({ start(c) { c.enqueue(bytes); c.close(); } }) : body,
  });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

describe("heartbeat: fast path and route answer alike", () => {
  for (const [name, body] of CORPUS) {
    test(name, async () => {
      const fast = await send(body, false);
      const route = await send(body, true);
      expect(fast).toEqual(route);
    });
  }
});

// The KV write fast path (core/api/kv-fast.ts) takes a PUT with a Content-Length
// and no query but acquire/release; the same PUT sent chunked goes to the route.
const SESSION = "22222222-2222-4222-8222-222222222222";
const KV_CORPUS: [string, string, string][] = [
  ["a plain value", "/v1/kv/corpus/a", "hello"],
  ["an empty value", "/v1/kv/corpus/b", ""],
  ["a binary-looking value", "/v1/kv/corpus/c", "\u0000\u00ff{}"],
  ["a deep key", "/v1/kv/" + "d/".repeat(40) + "leaf", "x"],
  ["an acquire with an unknown session", `/v1/kv/corpus/lock?acquire=${SESSION}`, "me"],
  ["a release with an unknown session", `/v1/kv/corpus/lock?release=${SESSION}`, ""],
  ["a value over the KV limit", "/v1/kv/corpus/big", "v".repeat(600 * 1024)],
];

async function put(path: string, body: string, chunked: boolean) {
  const bytes = new TextEncoder().encode(body);
  const res = await fetch(node.url + path, {
    method: "PUT",
    body: chunked ? new ReadableStream({ start(c) { c.enqueue(bytes); c.close(); } }) : body,
  });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

describe("KV writes: fast path and route answer alike", () => {
  for (const [name, path, body] of KV_CORPUS) {
    test(name, async () => {
      const fast = await put(path, body, false);
      const route = await put(path, body, true);
      expect(fast).toEqual(route);
    });
  }
});
