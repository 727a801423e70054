// The agent's DNS catalog (plugins/dns/remote.ts) against a fake leader: it
// watches what it is asked about, answers from that view, says SERVFAIL
// rather than NXDOMAIN when the leaders have not answered, and forgets names
// nobody asks about.
import { describe, expect, test } from "bun:test";
import * as dnsPacket from "dns-packet";
import { respond } from "../../plugins/dns/responder.ts";
import { CatalogUnavailable, RemoteCatalog, type RemoteCatalogOptions } from "../../plugins/dns/remote.ts";
import { decode, encodeQuery } from "./wire.ts";

type Entry = { Node: { Node: string; Address: string }; Service: { Address: string; Port: number; Tags: string[]; Weights?: { Passing: number; Warning: number } }; Checks: { Status: string }[] };

/** A leader that answers blocking queries from `data`: an index that is current waits until `change()`. */
function fakeLeader() {
  const data = new Map<string, unknown>();
  let index = 1;
  let wake: (() => void)[] = [];
  const asked: string[] = [];
  let down = false;
  const forward = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    asked.push(url.pathname);
    if (down) throw new Error("connect ECONNREFUSED");
    if (Number(url.searchParams.get("index") ?? 0) >= index) {
      await new Promise<void>((r) => {
        wake.push(r);
        req.signal.addEventListener("abort", () => r());
      });
    }
    if (req.signal.aborted) throw new Error("aborted");
    const body = data.get(url.pathname) ?? (url.pathname.startsWith("/v1/catalog/node/") ? null : []);
    return Response.json(body, { headers: { "X-Consul-Index": String(index) } });
  };
  return {
    forward, data, asked,
    set(path: string, body: unknown) {
      data.set(path, body);
      index++;
      const w = wake;
      wake = [];
      for (const f of w) f();
    },
    down(on: boolean) {
      down = on;
    },
  };
}

const entry = (node: string, port: number, tags: string[], statuses: string[]): Entry => ({
  Node: { Node: node, Address: "10.0.0." + port % 250 }, Service: { Address: "", Port: port, Tags: tags }, Checks: statuses.map((Status) => ({ Status })),
});

function catalog(leader: ReturnType<typeof fakeLeader>, over: Partial<RemoteCatalogOptions> = {}) {
  return new RemoteCatalog({
    forward: leader.forward, domains: ["corral"], datacenter: "dc1", waitMs: 60_000, firstAnswerMs: 500, idleMs: 60_000, maxNames: 100, ...over,
  });
}

const query = (name: string, type = "A") => encodeQuery(name, type, 1);
const opts = { domain: "corral.", datacenter: "dc1", serviceTtl: 0, nodeTtl: 0, udpAnswerLimit: 3, transport: "udp" as const };

describe("RemoteCatalog", () => {
  test("the first lookup waits for the leader; later ones answer from the watched view, which follows changes", async () => {
    const leader = fakeLeader();
    leader.set("/v1/health/service/web", [entry("n1", 1, ["v1"], ["passing"]), entry("n2", 2, ["V2"], ["passing", "warning"]), entry("n3", 3, [], ["critical"])]);
    const c = catalog(leader);
    await c.prepare(query("web.service.corral"));
    expect(c.serviceInstances("web").map((i) => [i.node, i.status])).toEqual([["n1", "passing"], ["n2", "warning"]]);
    expect(c.serviceInstances("web", "v2").map((i) => i.node)).toEqual(["n2"]); // tags compare case-insensitively
    const asked = leader.asked.length;
    await c.prepare(query("v1.web.service.corral"));
    expect(leader.asked.length).toBe(asked); // the same service: no second query

    leader.set("/v1/health/service/web", [entry("n4", 4, [], ["passing"])]);
    await Bun.sleep(20);
    expect(c.serviceInstances("web").map((i) => i.node)).toEqual(["n4"]);
    const a = decode(respond(query("web.service.corral"), c, opts)!.response);
    expect(a.answers?.map((x) => (x as { data: unknown }).data)).toEqual(["10.0.0.4"]);
    c.close();
  });

  test("nodes: known, unknown (NXDOMAIN), watched like services", async () => {
    const leader = fakeLeader();
    leader.set("/v1/catalog/node/n1", { Node: { Node: "n1", Address: "10.1.1.1" }, Services: {} });
    const c = catalog(leader);
    await c.prepare(query("n1.node.corral"));
    await c.prepare(query("ghost.node.corral"));
    expect(c.node("n1")).toEqual({ name: "n1", address: "10.1.1.1" });
    expect(c.node("ghost")).toBeUndefined();
    expect(decode(respond(query("ghost.node.corral"), c, opts)!.response).rcode).toBe("NXDOMAIN");
    c.close();
  });

  test("leaders unreachable: SERVFAIL, not NXDOMAIN, for a name never answered; a known view is kept", async () => {
    const leader = fakeLeader();
    leader.set("/v1/health/service/web", [entry("n1", 1, [], ["passing"])]);
    const c = catalog(leader);
    await c.prepare(query("web.service.corral"));
    leader.down(true);
    const t0 = performance.now();
    await c.prepare(query("db.service.corral"));
    expect(performance.now() - t0).toBeLessThan(400); // the failure settles the wait: no firstAnswerMs delay
    expect(() => c.serviceInstances("db")).toThrow(CatalogUnavailable);
    expect(decode(respond(query("db.service.corral"), c, opts)!.response).rcode).toBe("SERVFAIL");
    expect(decode(respond(query("web.service.corral"), c, opts)!.response).answers).toHaveLength(1);
    c.close();
  });

  test("names nobody asks about are dropped after idleMs; at most maxNames are watched", async () => {
    const leader = fakeLeader();
    let now = 0;
    const c = catalog(leader, { now: () => now, idleMs: 1000, maxNames: 3 });
    for (const s of ["a", "b", "c"]) await c.prepare(query(`${s}.service.corral`));
    expect(c.size()).toBe(3);
    now = 500;
    c.serviceInstances("a"); // asked again: kept
    now = 1200;
    c.sweep();
    expect(c.size()).toBe(1);
    for (const s of ["d", "e", "f", "g"]) await c.prepare(query(`${s}.service.corral`));
    expect(c.size()).toBe(3);
    expect(() => c.serviceInstances("a")).toThrow(CatalogUnavailable); // the least recently asked went first
    c.close();
  });

  test("questions outside our names, and undecodable messages, start no watch", async () => {
    const leader = fakeLeader();
    const c = catalog(leader);
    await c.prepare(query("example.com"));
    await c.prepare(query("corral", "SOA"));
    await c.prepare(Buffer.from([1, 2, 3]));
    await c.prepare(dnsPacket.encode({ type: "query", id: 1, questions: [] }));
    expect(c.size()).toBe(0);
    expect(leader.asked).toEqual([]);
    c.close();
  });
});
