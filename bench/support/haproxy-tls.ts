// HAProxy as the reference for the mesh bench (bench/invoke-mesh.ts): two
// processes, as two nodes would run them — A takes plain HTTP and sends it
// over TLS with a client certificate; B terminates that TLS, requires and
// verifies the client certificate, and calls the instance in clear. Both
// keep connections alive on both sides, one thread each. Certificates are
// made with openssl (ECDSA P-256, like corral's leaves) in a temp dir.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/helpers/proc.ts";
import { startHaproxyProcess } from "./haproxy.ts";

export interface HaproxyPair {
  /** A's plain front (where clients send). */
  port: number;
  pids: number[];
  stop(): void;
}

/** A throwaway CA and two leaves (server for B, client for A), as HAProxy wants them: cert + key in one file. */
function makeCerts(dir: string): { ca: string; server: string; client: string } {
  const run = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=bench-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  for (const [name, usage] of [["server", "serverAuth"], ["client", "clientAuth"]] as const) {
    run("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=bench-${name}`);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName = URI:spiffe://bench.local/ns/default/svc/${name}\nextendedKeyUsage = ${usage}\n`);
    run("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`);
    writeFileSync(join(dir, `${name}.pem`), readFileSync(join(dir, `${name}.crt`), "utf8") + readFileSync(join(dir, `${name}.key`), "utf8"));
  }
  return { ca: join(dir, "ca.pem"), server: join(dir, "server.pem"), client: join(dir, "client.pem") };
}

/** Resolves once something accepts TCP connections at host:port. */
function accepts(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    Bun.connect({ hostname: host, port, socket: { open: (s) => (s.end(), resolve()), data() {}, error: (_s, e) => reject(e), connectError: (_s, e) => reject(e) } }).catch(reject);
  });
}

/**
 * A on `ipA` (plain) → TLS with A's client certificate, B's checked against
 * the CA → B on `ipB` (TLS, client certificate required and verified) →
 * the instance at 127.0.0.1:`backendPort`.
 */
export async function startHaproxyTlsPair(backendPort: number, ipA: string, ipB: string): Promise<HaproxyPair> {
  const dir = mkdtempSync(join(tmpdir(), "corral-haproxy-tls-"));
  const certs = makeCerts(dir);
  const [portA, portB] = [await freePort(), await freePort()];
  const b = await startHaproxyProcess(dir, "b", [
    "frontend f", `  bind ${ipB}:${portB} ssl crt ${certs.server} ca-file ${certs.ca} verify required alpn http/1.1`, "  default_backend be",
    "backend be", `  server s0 127.0.0.1:${backendPort}`,
  ], () => accepts(ipB, portB)); // B wants a client certificate: A's probe, through B, is the real check
  let a: { pid: number; stop(): void };
  try {
    a = await startHaproxyProcess(dir, "a", [
      "frontend f", `  bind ${ipA}:${portA}`, "  default_backend be",
      "backend be", `  server s0 ${ipB}:${portB} ssl crt ${certs.client} ca-file ${certs.ca} verify required alpn http/1.1`,
    ], async () => {
      const r = await fetch(`http://${ipA}:${portA}/`);
      if (r.status !== 200) throw new Error(`through HAProxy A and B: HTTP ${r.status}`);
    });
  } catch (err) {
    b.stop();
    throw err;
  }
  return { port: portA, pids: [a.pid, b.pid], stop: () => (a.stop(), b.stop()) };
}
