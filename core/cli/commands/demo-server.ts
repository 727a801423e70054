// `corral demo-server`: the tiny HTTP service of `corral job init`'s example
// job. It is part of corral's own binary so that the first job needs nothing
// installed beside corral (no node, python or busybox): wherever corral runs,
// the task can run it. It answers every path with a greeting naming its job
// and copy, and /health with "ok" (the example's HTTP check).
import { createServer } from "node:http";
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";

export const demoServerSpec: CommandSpec = {
  name: "demo-server",
  summary: "Serve a greeting over HTTP: the task of `corral job init`'s example job.",
  usage: "corral demo-server [--port N] [--host ADDR]",
  details: [
    "Listens on --port, else $CORRAL_PORT_HTTP (the port a job's `http` port label was given);",
    "on --host, else the host of $CORRAL_ADDR_HTTP (the address the service is registered under), else 127.0.0.1.",
    "GET /health answers \"ok\"; any other path \"hello from JOB copy N\". Stops on SIGTERM or SIGINT.",
  ].join("\n"),
  flags: {
    port: { type: "number", value: "N", help: "Port to listen on (default $CORRAL_PORT_HTTP)" },
    host: { type: "string", value: "ADDR", help: "Address to listen on (default: the host of $CORRAL_ADDR_HTTP, else 127.0.0.1)" },
  },
};

/** What the server says on `path`, from the task's environment. Pure. */
export function demoAnswer(path: string, env: Record<string, string | undefined>): { status: number; body: string } {
  if (path === "/health") return { status: 200, body: "ok\n" };
  const job = env.CORRAL_JOB_ID ?? "demo-server";
  return { status: 200, body: `hello from ${job} copy ${env.CORRAL_ALLOC_INDEX ?? "0"}\n` };
}

export async function demoServer(args: Parsed): Promise<number> {
  const port = (args.flags.port as number | undefined) ?? Number(process.env.CORRAL_PORT_HTTP ?? NaN);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError("no port: pass --port N, or run it as a task with an `http` port ($CORRAL_PORT_HTTP)");
  }
  const registered = process.env.CORRAL_ADDR_HTTP?.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  const host = (args.flags.host as string | undefined) ?? (registered || "127.0.0.1");
  const server = createServer((req, res) => {
    const { status, body } = demoAnswer(new URL(req.url ?? "/", "http://x").pathname, process.env);
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(body);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  process.stdout.write(`demo-server listening on ${host}:${port}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  server.close();
  return 0;
}
