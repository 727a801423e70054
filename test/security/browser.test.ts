// What a web page in the operator's browser can do to a default node (ACLs
// off, bound to 127.0.0.1): nothing. Real corral processes, raw HTTP/1.1 so
// every header is exactly what a browser or an attacker sends.
//
// - a cross-site POST (text/plain, form, or with an Origin) that would run a
//   command as a job is refused, and no job exists afterwards;
// - JSON routes refuse text/plain, form-urlencoded and multipart bodies (415),
//   accept application/json, +json, TOML and no Content-Type;
// - a Host that is not the node's (DNS rebinding) is refused on GET and POST;
//   http.allowed_hosts and http.allowed_origins open exactly what they name.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { BUN, cleanup, devSecretOf, getJson, killAll, sleep, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";
import { crossSiteRefusal, hostOf } from "../../core/http/browser-guard.ts";
import { parsableBodyType } from "../../core/http/middleware/body-type.ts";
import { head, json, rawRequest } from "./helpers-browser.ts";

let node: CorralProcess;
let dir: string;
let host: string;

beforeAll(async () => {
  dir = tempDir("corral-browser-");
  node = await startCorral({ role: "dev" });
  host = `127.0.0.1:${node.port}`;
}, 60_000);

afterAll(async () => {
  await killAll();
  cleanup(dir);
});

/** A job that, were it run, leaves a file behind: the proof an attacker's command ran. */
function touchJob(id: string, marker: string) {
  return { id, groups: [{ name: "g", tasks: [{ name: "t", command: BUN, args: ["-e", `require("fs").writeFileSync(${JSON.stringify(marker)}, "pwned")`], resources: { cpu: 10, memory: 32 } }] }] };
}

async function jobIds(): Promise<string[]> {
  const r = await getJson<{ id: string }[]>(node.url + "/v1/jobs");
  expect(r.status).toBe(200);
  return r.body.map((j) => j.id);
}

const post = (target: string, fields: Record<string, string | number>, body: string) =>
  rawRequest(node.port, head("POST", target, { Host: host, "Content-Length": Buffer.byteLength(body, "latin1"), ...fields }), body);
const put = (target: string, fields: Record<string, string | number>, body: string) =>
  rawRequest(node.port, head("PUT", target, { Host: host, "Content-Length": Buffer.byteLength(body, "latin1"), ...fields }), body);

const SERVICE = JSON.stringify({ Name: "web", ID: "web-1", Port: 8080 });

describe("cross-site requests cannot change state", () => {
  test("a page on another site POSTing a job as text/plain (a <form> or no-cors fetch) gets 403, no job exists, nothing ran", async () => {
    const marker = join(dir, "pwned-1");
    const r = await post("/v1/jobs", {
      "Content-Type": "text/plain;charset=UTF-8", Origin: "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
    }, JSON.stringify(touchJob("pwn1", marker)));
    expect(r.status).toBe(403);
    expect(json(r)).toMatchObject({ code: "CROSS_SITE_REQUEST" });
    expect(json(r).error).toContain("http.allowed_origins");
    // A Blob without a type is sent with no Content-Type at all: the Origin still gives it away.
    const unlabelled = await post("/v1/jobs", { Origin: "http://evil.example", "Sec-Fetch-Site": "cross-site" }, JSON.stringify(touchJob("pwn1", marker)));
    expect(unlabelled.status).toBe(403);
    expect(node.output()).toContain("refused a browser-unsafe request"); // the operator can see why (once a minute)
    await sleep(1500);
    expect(await jobIds()).not.toContain("pwn1");
    expect(existsSync(marker)).toBe(false);
  }, 30_000);

  test("the same body with no browser headers at all (text/plain) is not parsed as JSON: 415, no job", async () => {
    const marker = join(dir, "pwned-2");
    for (const type of ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]) {
      const r = await post("/v1/jobs", { "Content-Type": type }, JSON.stringify(touchJob("pwn2", marker)));
      expect(r.status, type).toBe(415);
      expect(json(r)).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
      expect(json(r).error).toContain("application/json");
    }
    await sleep(1000);
    expect(await jobIds()).not.toContain("pwn2");
    expect(existsSync(marker)).toBe(false);
  }, 30_000);

  test("Origin variants: only the node's own origin (or none) may write", async () => {
    const json = { "Content-Type": "application/json" };
    const refused = [
      "http://evil.example",
      "null", // sandboxed frames, file:// pages
      `http://127.0.0.1:${node.port + 1}`, // another local app: same host, other port
      `http://localhost:${node.port}`, // a name the node has, but not the one this request was sent to
      "not a url",
    ];
    for (const origin of refused) {
      const r = await put("/v1/agent/service/register", { ...json, Origin: origin }, SERVICE);
      expect(r.status, origin).toBe(403);
    }
    const own = await put("/v1/agent/service/register", { ...json, Origin: `http://${host}` }, SERVICE);
    expect(own.status).toBe(200);
    const viaLocalhost = await rawRequest(node.port, head("PUT", "/v1/agent/service/register", {
      Host: `localhost:${node.port}`, Origin: `http://localhost:${node.port}`, "Content-Type": "application/json", "Content-Length": SERVICE.length,
    }), SERVICE);
    expect(viaLocalhost.status).toBe(200);
    const none = await put("/v1/agent/service/register", json, SERVICE); // curl, the CLI, client libraries
    expect(none.status).toBe(200);
  }, 30_000);

  test("Sec-Fetch-Site variants: cross-site and same-site are refused, same-origin and none pass", async () => {
    const json = { "Content-Type": "application/json" };
    for (const site of ["cross-site", "same-site", "CROSS-SITE"]) {
      const r = await put("/v1/agent/service/register", { ...json, "Sec-Fetch-Site": site }, SERVICE);
      expect(r.status, site).toBe(403);
    }
    for (const site of ["same-origin", "none"]) {
      const r = await put("/v1/agent/service/register", { ...json, "Sec-Fetch-Site": site }, SERVICE);
      expect(r.status, site).toBe(200);
    }
    // An allowed Origin wins over the browser's cross-site marking only on a node that lists it (below).
  }, 30_000);

  test("raw-body routes keep any Content-Type but still refuse cross-site writes (KV, fast path included)", async () => {
    const ok = await put("/v1/kv/browser/plain", { "Content-Type": "text/plain;charset=UTF-8" }, "hello");
    expect(ok.status).toBe(200);
    const evil = await put("/v1/kv/browser/evil", { "Content-Type": "text/plain", Origin: "http://evil.example" }, "owned");
    expect(evil.status).toBe(403);
    const sfs = await put("/v1/kv/browser/evil?cas=0", { "Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site" }, "owned");
    expect(sfs.status).toBe(403);
    const del = await rawRequest(node.port, head("DELETE", "/v1/kv/browser/plain", { Host: host, Origin: "http://evil.example" }));
    expect(del.status).toBe(403);
    expect((await getJson(node.url + "/v1/kv/browser/evil")).status).toBe(404);
    expect((await getJson(node.url + "/v1/kv/browser/plain?raw")).body).toBe("hello");
  }, 30_000);

  test("JSON routes accept application/json, +json, TOML job documents and a missing Content-Type", async () => {
    for (const type of ["application/json", "application/json; charset=utf-8", "application/vnd.api+json", "APPLICATION/JSON"]) {
      const r = await put("/v1/agent/service/register", { "Content-Type": type }, SERVICE);
      expect(r.status, type).toBe(200);
    }
    const bare = await put("/v1/agent/service/register", {}, SERVICE); // python-consul sends none
    expect(bare.status).toBe(200);
    const toml = 'id = "tomljob"\n[[groups]]\nname = "g"\n[[groups.tasks]]\nname = "t"\ncommand = "/bin/true"\n[groups.tasks.resources]\ncpu = 10\nmemory = 16\n';
    const plan = await post("/v1/job/tomljob/plan", { "Content-Type": "application/toml" }, toml);
    expect(plan.status).toBe(200);
  }, 30_000);

  test("reads stay open to any origin (a browser cannot read the answer without CORS)", async () => {
    const r = await rawRequest(node.port, head("GET", "/v1/nodes", { Host: host, Origin: "http://evil.example", "Sec-Fetch-Site": "cross-site" }));
    expect(r.status).toBe(200);
  });
});

describe("DNS rebinding: the Host must be one of the node's names", () => {
  test("Host: evil.example is refused on GET (reads, the dashboard) and POST, with a message naming http.allowed_hosts", async () => {
    for (const [method, target] of [["GET", "/v1/nodes"], ["GET", "/ui/"], ["GET", "/v1/kv/browser/plain?raw"], ["GET", "/metrics"]] as const) {
      const r = await rawRequest(node.port, head(method, target, { Host: `evil.example:${node.port}` }));
      expect(r.status, target).toBe(421);
      expect(json(r)).toMatchObject({ code: "HOST_NOT_ALLOWED" });
      expect(json(r).error).toContain("http.allowed_hosts");
    }
    const marker = join(dir, "pwned-3");
    // After rebinding the page is "same-origin": it can send JSON with every header it likes.
    const r = await rawRequest(node.port, head("POST", "/v1/jobs", {
      Host: `evil.example:${node.port}`, Origin: `http://evil.example:${node.port}`, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json",
      "Content-Length": JSON.stringify(touchJob("pwn3", marker)).length,
    }), JSON.stringify(touchJob("pwn3", marker)));
    expect(r.status).toBe(421);
    const kv = await rawRequest(node.port, head("PUT", "/v1/kv/rebound", { Host: "evil.example", "Content-Length": 1 }), "x");
    expect(kv.status).toBe(421);
    await sleep(1000);
    expect(await jobIds()).not.toContain("pwn3");
    expect(existsSync(marker)).toBe(false);
    expect((await getJson(node.url + "/v1/kv/rebound")).status).toBe(404);
  }, 30_000);

  test("the node's own names pass: 127.0.0.1, localhost, [::1], any port (port forwarding)", async () => {
    for (const h of [host, `localhost:${node.port}`, "LOCALHOST", `[::1]:${node.port}`, "127.0.0.1:8500", "app.localhost"]) {
      const r = await rawRequest(node.port, head("GET", "/v1/healthz", { Host: h }));
      expect(r.status, h).toBe(200);
    }
  });

  test("peer RPC and validly signed forwarded requests are exempt (a client's Origin passed on by a node); a forged signature, or one for a name the node does not list, is not", async () => {
    const secret = devSecretOf(node.dataDir);
    const path = "/v1/kv/forwarded";
    // A node passes a client's request on with the client's headers (its Origin included), signed for this node.
    const good = await rawRequest(node.port, head("PUT", path, {
      Host: host, Origin: "http://evil.example", "Content-Length": 2, "Content-Type": "application/octet-stream",
      [SIGNATURE_HEADER]: signRequest({ secret, node: randomUUID() }, "PUT", path, "ok", { to: host }),
    }), "ok");
    expect(good.status).toBe(200);
    // Signed for a name this node does not list: not this node's signature (core/http/rpc-receiver.ts), so the Host check stands.
    const alias = "leader.internal:7700";
    const unlisted = await rawRequest(node.port, head("PUT", path, {
      Host: alias, "Content-Length": 2, "Content-Type": "application/octet-stream", [SIGNATURE_HEADER]: signRequest({ secret, node: randomUUID() }, "PUT", path, "no", { to: alias }),
    }), "no");
    expect(unlisted.status).toBe(421);
    const forged = await rawRequest(node.port, head("PUT", path, {
      Host: "evil.example", "Content-Length": 2, [SIGNATURE_HEADER]: signRequest({ secret: "not-the-secret-at-all", node: randomUUID() }, "PUT", path, "no", { to: "evil.example" }),
    }), "no");
    expect(forged.status).toBe(421);
    const raft = await rawRequest(node.port, head("POST", "/v1/raft/message", { Host: "peer.internal:7700", "Content-Type": "application/json", "Content-Length": 2 }), "{}");
    expect(raft.status).toBe(401); // cluster-auth's answer, not the Host check's
    expect((await getJson(node.url + "/v1/kv/forwarded?raw")).body).toBe("ok");
  });
});

describe("http.allowed_hosts and http.allowed_origins", () => {
  let open: CorralProcess;
  beforeAll(async () => {
    open = await startCorral({ role: "dev", config: '[http]\nallowed_hosts = ["corral.example.com"]\nallowed_origins = ["https://dash.example.com"]\n' });
  }, 60_000);

  test("a listed Host and Origin pass; others are still refused", async () => {
    const body = SERVICE;
    const send = (h: string, origin?: string, site?: string) => rawRequest(open.port, head("PUT", "/v1/agent/service/register", {
      Host: h, "Content-Type": "application/json", "Content-Length": body.length, ...(origin ? { Origin: origin } : {}), ...(site ? { "Sec-Fetch-Site": site } : {}),
    }), body);
    expect((await rawRequest(open.port, head("GET", "/v1/nodes", { Host: "corral.example.com" }))).status).toBe(200);
    expect((await rawRequest(open.port, head("GET", "/v1/nodes", { Host: "corral.example.com:443" }))).status).toBe(200);
    expect((await rawRequest(open.port, head("GET", "/v1/nodes", { Host: "evil.example" }))).status).toBe(421);
    expect((await send(`127.0.0.1:${open.port}`, "https://dash.example.com", "cross-site")).status).toBe(200);
    expect((await send("corral.example.com", "https://corral.example.com")).status).toBe(200); // its own origin behind a proxy on 443
    expect((await send(`127.0.0.1:${open.port}`, "https://evil.example", "cross-site")).status).toBe(403);
    expect((await send(`127.0.0.1:${open.port}`, "http://dash.example.com")).status).toBe(403); // scheme is part of the origin
  });

  test("a bad entry is a config error naming the key", async () => {
    const bad = await startCorral({ role: "dev", config: '[http]\nallowed_origins = ["dash.example.com/path"]\n', waitReady: false });
    expect(await bad.exited).not.toBe(0);
    expect(bad.output()).toContain("allowed_origins");
  }, 30_000);
});

describe("nothing the API answers runs as a page on the dashboard's origin", () => {
  test("API answers (JSON, a raw KV value) are sandboxed and nosniff; the dashboard's page keeps its own strict policy", async () => {
    await fetch(node.url + "/v1/kv/browser/page", { method: "PUT", body: "<script>alert(sessionStorage)</script>" });
    for (const path of ["/v1/nodes", "/v1/kv/browser/page?raw", "/v1/kv/nope", "/v1/no-such-route"]) {
      const r = await fetch(node.url + path);
      await r.arrayBuffer();
      expect(r.headers.get("content-security-policy"), path).toBe("sandbox");
      expect(r.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
    const page = await fetch(node.url + "/ui/");
    expect(await page.text()).toContain("<div id=\"app\">");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.headers.get("content-security-policy")).not.toContain("sandbox");
  });
});

describe("a node bound to 0.0.0.0", () => {
  test("answers to the machine's interface addresses and to the bind address itself (its own API calls), not to other names", async () => {
    const wide = await startCorral({ role: "dev", args: ["--bind", "0.0.0.0"] });
    const addresses = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === "IPv4").map((a) => a!.address);
    for (const h of [...addresses, "0.0.0.0", `0.0.0.0:${wide.port}`]) {
      const r = await rawRequest(wide.port, head("GET", "/v1/healthz", { Host: h }));
      expect(r.status, h).toBe(200);
    }
    expect((await rawRequest(wide.port, head("GET", "/v1/healthz", { Host: "rebound.example" }))).status).toBe(421);
  }, 60_000);
});

describe("the pure decisions", () => {
  test("hostOf: ports, brackets, case and a trailing dot", () => {
    expect(hostOf("LocalHost:7700")).toBe("localhost");
    expect(hostOf("[::1]:7700")).toBe("::1");
    expect(hostOf("example.com.")).toBe("example.com");
    expect(hostOf("10.0.0.5")).toBe("10.0.0.5");
  });

  test("parsableBodyType: JSON, +json, TOML and none; never the types a page sends without a preflight", () => {
    for (const t of [null, "", "application/json", "application/json;charset=utf-8", "application/problem+json", "application/toml", "text/toml"]) expect(parsableBodyType(t), String(t)).toBe(true);
    for (const t of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream", "text/json-ish", "application/jsonp"]) expect(parsableBodyType(t), t).toBe(false);
  });

  test("crossSiteRefusal: reads never, writes by Origin first, then Sec-Fetch-Site", () => {
    const none = new Set<string>();
    expect(crossSiteRefusal("GET", "http://evil.example", "cross-site", "127.0.0.1:7700", none)).toBeUndefined();
    expect(crossSiteRefusal("POST", "http://evil.example", null, "127.0.0.1:7700", none)?.status).toBe(403);
    expect(crossSiteRefusal("POST", "http://127.0.0.1:7700", "same-origin", "127.0.0.1:7700", none)).toBeUndefined();
    expect(crossSiteRefusal("POST", "http://127.0.0.1", null, "127.0.0.1:80", none)).toBeUndefined();
    expect(crossSiteRefusal("DELETE", null, "same-site", "127.0.0.1:7700", none)?.status).toBe(403);
    expect(crossSiteRefusal("PATCH", null, null, "127.0.0.1:7700", none)).toBeUndefined();
    expect(crossSiteRefusal("PUT", "https://dash.example.com", "cross-site", "127.0.0.1:7700", new Set(["https://dash.example.com"]))).toBeUndefined();
  });
});
