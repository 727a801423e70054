// The invoke proxy's leaks, against real processes: a dev node, a real
// backend that echoes what it receives, raw HTTP/1.1 where the bytes matter.
//
// - the caller's corral credentials (X-Consul-Token, X-Corral-Token,
//   Authorization: Bearer <token>, ?token=) never reach the backend, on the
//   API route and on the proxy listener; a backend's own Authorization does;
// - every answer of /v1/invoke/... is sandboxed (CSP sandbox, nosniff): a
//   service's HTML cannot run on the dashboard's origin;
// - the listener reads header values with RFC 9110 OWS only: NBSP around
//   Content-Length, Transfer-Encoding or Host is refused, not trimmed;
// - no body is buffered before the ACL decision: a client with no token and
//   a forged signature header gets its 403 while its body is still arriving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing, type Backend } from "../invoke/helpers.ts";
import { head, json, parseAnswer, rawRequest } from "./helpers-browser.ts";
import { isCorralBearer, withoutTokenParam } from "../../plugins/invoke/credentials.ts";

const TOKENS = {
  query: "11111111-2222-4333-8444-555555555555",
  consul: "21111111-2222-4333-8444-555555555555",
  corral: "31111111-2222-4333-8444-555555555555",
  bearer: "41111111-2222-4333-8444-555555555555",
};
const SECRETS = Object.values(TOKENS);

let node: CorralProcess;
let backend: Backend;
let listener = 0;

beforeAll(async () => {
  node = await startCorral({ role: "dev", config: '[plugins.invoke]\nport = 0\nengine = "sockets"\n' });
  backend = await startBackend("echo");
  await register(node, "echo", backend);
  await waitPassing(node, "echo", 1);
  listener = await proxyPort(node);
}, 60_000);

afterAll(async () => {
  await killBackends();
  await killAll();
});

interface Echo {
  path: string;
  headers: Record<string, string>;
}

/** Nothing the backend saw (path and every header value) holds a corral secret. */
function expectNoSecret(e: Echo): void {
  const seen = JSON.stringify(e);
  for (const s of SECRETS) expect(seen, `backend saw ${s}`).not.toContain(s);
}

describe("credentials stay home", () => {
  const creds = {
    "X-Consul-Token": TOKENS.consul, "X-Corral-Token": TOKENS.corral, Authorization: `Bearer ${TOKENS.bearer}`,
  };

  test("API route /v1/invoke/...: no token header, no Bearer token, no ?token= reaches the backend; other query parameters do", async () => {
    for (const q of [`token=${TOKENS.query}&keep=1`, `keep=1&%74oken=${TOKENS.query}`, `keep=1&token=${TOKENS.query}&token=${TOKENS.query}`]) {
      const r = await rawRequest(node.port, head("GET", `/v1/invoke/echo/echo?${q}`, { Host: `127.0.0.1:${node.port}`, ...creds }));
      expect(r.status, q).toBe(200);
      const e = json<Echo>(r);
      expectNoSecret(e);
      expect(e.path).toBe("/echo?keep=1");
      expect(e.headers.authorization).toBeUndefined();
    }
  });

  test("proxy listener (Host routing): the same", async () => {
    const r = await rawRequest(listener, head("GET", `/echo?token=${TOKENS.query}&keep=1`, { Host: "echo", ...creds, "authorization": `bearer\t${TOKENS.bearer}` }));
    expect(r.status).toBe(200);
    const e = json<Echo>(r);
    expectNoSecret(e);
    expect(e.path).toBe("/echo?keep=1");
    const viaPath = await rawRequest(listener, head("POST", `/v1/invoke/echo/echo?token=${TOKENS.query}`, { Host: "127.0.0.1", ...creds, "Content-Length": 2 }), "hi");
    expect(viaPath.status).toBe(200);
    expectNoSecret(json<Echo>(viaPath));
    expect(json<Echo>(viaPath).path).toBe("/echo");
  });

  test("a backend's own Authorization (a JWT, Basic) is passed on", async () => {
    const jwt = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    const route = await rawRequest(node.port, head("GET", "/v1/invoke/echo/echo", { Host: `127.0.0.1:${node.port}`, Authorization: jwt }));
    expect(json<Echo>(route).headers.authorization).toBe(jwt);
    const raw = await rawRequest(listener, head("GET", "/echo", { Host: "echo", Authorization: "Basic dXNlcjpwYXNz" }));
    expect(json<Echo>(raw).headers.authorization).toBe("Basic dXNlcjpwYXNz");
  });
});

describe("DNS rebinding on the proxy listener", () => {
  test("the path form answers only to an IP address or localhost as Host, on both engines: a rebound name reaches no service", async () => {
    const fetchNode = await startCorral({ role: "dev", config: '[plugins.invoke]\nport = 0\nengine = "fetch"\n' });
    await register(fetchNode, "echo", backend);
    await waitPassing(fetchNode, "echo", 1);
    const fetchListener = await proxyPort(fetchNode);
    for (const port of [listener, fetchListener]) {
      const before = await backend.served();
      for (const h of [`evil.example:${port}`, "rebind.attacker.net", "web.example"]) {
        const r = await rawRequest(port, head("GET", "/v1/invoke/echo/echo", { Host: h }));
        expect(r.status, `${port} ${h}`).toBe(404);
        expect(json(r).code).toBe("NO_SERVICE_IN_HOST");
      }
      expect(await backend.served()).toBe(before);
      for (const h of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
        const r = await rawRequest(port, head("GET", "/v1/invoke/echo/echo", { Host: h }));
        expect(r.status, `${port} ${h}`).toBe(200);
      }
    }
  }, 60_000);
});

describe("proxied answers are inert on the API origin", () => {
  test("every /v1/invoke answer carries Content-Security-Policy: sandbox and nosniff, corral's own refusals too", async () => {
    for (const target of ["/v1/invoke/echo/page.html", "/v1/invoke/echo/echo", "/v1/invoke/nosuch/x"]) {
      const r = await fetch(node.url + target);
      await r.arrayBuffer();
      expect(r.headers.get("content-security-policy"), target).toBe("sandbox");
      expect(r.headers.get("x-content-type-options"), target).toBe("nosniff");
    }
  });
});

describe("the listener reads header values strictly (RFC 9110 OWS: SP and HTAB only)", () => {
  test("NBSP around Content-Length, Transfer-Encoding or Host is refused and nothing reaches the backend", async () => {
    const before = await backend.served();
    const cl = await rawRequest(listener, "POST /upload HTTP/1.1\r\nHost: echo\r\nContent-Length: \xa05", "hello");
    expect(cl.status).toBe(400);
    const cl2 = await rawRequest(listener, "POST /upload HTTP/1.1\r\nHost: echo\r\nContent-Length: 5\xa0", "hello");
    expect(cl2.status).toBe(400);
    const te = await rawRequest(listener, "POST /upload HTTP/1.1\r\nHost: echo\r\nTransfer-Encoding: chunked\xa0", "5\r\nhello\r\n0\r\n\r\n");
    expect([400, 501]).toContain(te.status);
    const host = await rawRequest(listener, "GET /echo HTTP/1.1\r\nHost: echo\xa0");
    expect(host.status).toBe(404);
    expect(await backend.served()).toBe(before);
    // Plain spaces and tabs are OWS and still fine.
    const ok = await rawRequest(listener, "POST /upload HTTP/1.1\r\nHost: \techo \r\nContent-Length:  5\t", "hello");
    expect(ok.status).toBe(200);
    expect(json(ok).bytes).toBe(5);
  });
});

describe("no pre-auth buffering", () => {
  let locked: CorralProcess;
  beforeAll(async () => {
    locked = await startCorral({ role: "dev", config: '[plugins.authz]\nenabled = true\ndefault_policy = "deny"\n' });
  }, 60_000);

  test("a client with no token and a forged signature header gets 403 while its (endless) body is still arriving", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(locked.port, "127.0.0.1");
      let got = "";
      let sending = true;
      const chunk = Buffer.alloc(256 * 1024, 120);
      const timer = setTimeout(() => {
        sending = false;
        sock.destroy();
        reject(new Error("no answer within 20 s: the node is waiting for the whole body"));
      }, 20_000);
      const pump = () => {
        // Keep sending (never the final chunk) until the answer comes.
        while (sending && sock.write(`${chunk.length.toString(16)}\r\n`) && sock.write(chunk) && sock.write("\r\n"));
      };
      sock.on("connect", () => {
        sock.write(head("POST", "/v1/invoke/echo/upload", {
          Host: `127.0.0.1:${locked.port}`, "Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream",
          "X-Corral-Signature": `t=${Date.now()},sig=${"0".repeat(64)}`,
        }) + "\r\n\r\n");
        pump();
      });
      sock.on("drain", pump);
      sock.on("data", (d) => {
        got += d.toString("latin1");
        if (got.includes("\r\n\r\n")) {
          sending = false;
          clearTimeout(timer);
          sock.destroy();
          resolve(got);
        }
      });
      sock.on("error", () => {});
    });
    const r = parseAnswer(answer);
    expect(r.status).toBe(403);
    expect((await getJson(locked.url + "/v1/healthz")).status).toBe(200);
  }, 60_000);
});

describe("the pure decisions (plugins/invoke/credentials.ts)", () => {
  test("withoutTokenParam drops every token parameter, however spelled, and keeps the rest in order", () => {
    expect(withoutTokenParam("/a")).toBe("/a");
    expect(withoutTokenParam("/a?x=1")).toBe("/a?x=1");
    expect(withoutTokenParam("/a?token=s")).toBe("/a");
    expect(withoutTokenParam("/a?x=1&token=s&y=2&%74oken=t&tok%65n=u")).toBe("/a?x=1&y=2");
    expect(withoutTokenParam("/a?token")).toBe("/a");
    expect(withoutTokenParam("/a?tokens=1&my_token=2")).toBe("/a?tokens=1&my_token=2");
    expect(withoutTokenParam("/a?x=%zz&token=s")).toBe("/a?x=%zz");
  });

  test("isCorralBearer: Bearer <UUID> in any case, nothing else", () => {
    expect(isCorralBearer(`Bearer ${TOKENS.bearer}`)).toBe(true);
    expect(isCorralBearer(`bearer\t${TOKENS.bearer} `)).toBe(true);
    expect(isCorralBearer("Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln")).toBe(false);
    expect(isCorralBearer("Basic dXNlcjpwYXNz")).toBe(false);
    expect(isCorralBearer(TOKENS.bearer)).toBe(false);
  });
});
