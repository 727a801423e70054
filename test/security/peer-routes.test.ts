// Peer RPC (`/v1/raft/*`, `/v1/cluster/*`) against a client without the
// cluster secret, and against one that captured a signed request: every peer
// route of the live route table (permission "peer"), so a new RPC is covered
// without anyone remembering to. Each must answer 401 to a missing, malformed,
// foreign-secret, stale (−31 s), future (+31 s), re-targeted or replayed
// signature — the control, the same request correctly signed once, must get
// past the signature check — and must refuse an unsigned request before
// reading its body (a large declared body is answered without being sent).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";
import { devSecretOf, killAll, type CorralProcess } from "../helpers/proc.ts";
import { listRoutes, type LiveRoute } from "../fuzz/routes.ts";
import { startCorral } from "../helpers/proc.ts";
import { headOnly, observe } from "./helpers-suite.ts";

const started = Date.now();
let node: CorralProcess;
let secret: string;
let peerRoutes: LiveRoute[] = [];

beforeAll(async () => {
  node = await startCorral({ role: "dev" });
  secret = devSecretOf(node.dataDir);
  peerRoutes = (await listRoutes(node.url)).filter((r) => r.permission === "peer");
});
afterAll(async () => {
  await killAll();
  console.log(`peer-routes: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
});

/** A signature header as a peer with `secret` makes it at time `now`. */
function sign(secret: string, method: string, path: string, body: string, now: number): string {
  return signRequest({ secret, node: "suite-peer" }, method, path, body, { now, to: new URL(node.url).host });
}

/** A body each RPC would plausibly carry (its content does not matter to the signature check). */
function bodyOf(r: LiveRoute): string {
  if (r.path === "/v1/cluster/acl/resolve") return JSON.stringify({ secretHash: createHash("sha256").update(crypto.randomUUID()).digest("hex") });
  return JSON.stringify({ probe: crypto.randomUUID() });
}

function post(r: LiveRoute, body: string, signature?: string) {
  return observe(node.url + r.path, {
    method: r.method,
    headers: { "content-type": "application/json", ...(signature !== undefined ? { [SIGNATURE_HEADER]: signature } : {}) },
    body,
  });
}

describe("peer routes refuse what a client without the secret, or with a captured request, can send", () => {
  test("the walk finds the peer routes", () => {
    const paths = peerRoutes.map((r) => r.path);
    expect(paths).toContain("/v1/raft/message");
    expect(paths).toContain("/v1/cluster/join");
    expect(peerRoutes.length).toBeGreaterThanOrEqual(5);
  });

  test("every peer route: missing, malformed, foreign, stale, future, re-targeted and replayed signatures → 401", async () => {
    const failures: string[] = [];
    for (const r of peerRoutes) {
      const at = `${r.method} ${r.path}`;
      const body = bodyOf(r);
      const now = Date.now();
      const variants: [string, string | undefined][] = [
        ["no signature", undefined],
        ["empty", ""],
        ["garbage", "garbage"],
        ["t not a number", `t=abc,sig=${"0".repeat(64)}`],
        ["short sig", `t=${now},sig=00`],
        ["non-hex sig", `t=${now},sig=${"g".repeat(64)}`],
        ["signed with another secret", sign("not-the-cluster-secret-0123456789", r.method, r.path, body, now)],
        ["signed 31 s ago", sign(secret, r.method, r.path, body, now - 31_000)],
        ["signed 31 s in the future", sign(secret, r.method, r.path, body, now + 31_000)],
        ["signed for another path", sign(secret, r.method, r.path + "x", body, now)],
        ["signed for another body", sign(secret, r.method, r.path, body + " ", now)],
        ["signed for another method", sign(secret, "PUT", r.path, body, now)],
      ];
      for (const [label, sig] of variants) {
        const res = await post(r, body, sig);
        if (res.status !== 401) failures.push(`${at} [${label}]: ${res.status} (want 401) ${res.body.slice(0, 100)}`);
      }
      // The control and the replay: the same bytes, signed once, sent twice.
      const sig = sign(secret, r.method, r.path, body, Date.now());
      const first = await post(r, body, sig);
      if (first.status === 401) failures.push(`${at} [control: correctly signed]: 401 — the test's signature is wrong, the replay check below proves nothing`);
      const again = await post(r, body, sig);
      if (again.status !== 401) failures.push(`${at} [replayed: the same signed request again]: ${again.status} (want 401; first answer ${first.status}) ${again.body.slice(0, 100)}`);
    }
    if (failures.length) throw new Error(`${failures.length} failure(s):\n  ${failures.join("\n  ")}`);
  }, 60_000);

  test("an unsigned request declaring a large body is refused before the body is read", async () => {
    const failures: string[] = [];
    // All at once: on code that waits for the body, each costs the full 5 s.
    const answers = await Promise.all(peerRoutes.map((r) => headOnly(node.port, r.method, r.path, 512 * 1024, { "Content-Type": "application/json" }, 5_000)));
    for (const [i, r] of peerRoutes.entries()) {
      // 512 KiB: under every body limit (http.max_body_bytes is 1 MiB by default, the Raft routes' 64 MiB).
      const res = answers[i];
      if (!res) failures.push(`${r.method} ${r.path}: no answer in 5 s while the body was withheld — the node waits to read an unsigned body`);
      else if (res.status !== 401) failures.push(`${r.method} ${r.path}: ${res.status} (want 401) after ${res.ms} ms`);
    }
    if (failures.length) throw new Error(`${failures.length} failure(s):\n  ${failures.join("\n  ")}`);
  }, 60_000);
});
