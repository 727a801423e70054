// A userspace TCP proxy (what docker-proxy does): each host port of a
// container task is a listener of the agent on the node's address, and each
// connection to it is piped to the container's address and port over the
// allocation's veth pair. The host is an endpoint of that pair, so nothing
// is forwarded by the kernel (no ip_forward, no iptables).
import { createServer, connect, type Server, type Socket } from "node:net";
import type { Logger } from "../../core/sdk/index.ts";

export interface PortMap {
  hostPort: number;
  containerPort: number;
}

export class PortProxy {
  private servers: Server[] = [];
  private sockets = new Set<Socket>();
  private closed = false;

  constructor(private listenHost: string, private containerIp: string, private log: Logger) {}

  /** Opens one listener per mapping; a port that cannot be bound is logged (the task's checks will say it is down). */
  async open(maps: readonly PortMap[]): Promise<void> {
    await Promise.all(maps.map((m) => this.listen(m)));
  }

  private listen(m: PortMap): Promise<void> {
    return new Promise((resolve) => {
      const server = createServer({ allowHalfOpen: true }, (client) => this.pipe(client, m.containerPort));
      server.once("error", (err) => {
        this.log.warn("container: cannot listen on the allocated port", { host: this.listenHost, port: m.hostPort, err });
        resolve();
      });
      server.listen({ host: this.listenHost, port: m.hostPort, exclusive: true }, () => {
        if (this.closed) server.close(); // the allocation ended while this listener was being opened
        else this.servers.push(server);
        resolve();
      });
    });
  }

  private pipe(client: Socket, port: number): void {
    const upstream = connect({ host: this.containerIp, port, allowHalfOpen: true });
    this.sockets.add(client).add(upstream);
    const done = (s: Socket) => () => {
      this.sockets.delete(s);
      s.destroy();
    };
    // Either side failing (the container not listening yet: a reset) closes both.
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", done(upstream));
    upstream.on("close", done(client));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  close(): void {
    this.closed = true;
    for (const s of this.servers) s.close();
    for (const s of this.sockets) s.destroy();
    this.servers = [];
    this.sockets.clear();
  }
}
