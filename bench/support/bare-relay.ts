// The floor for any proxy written on Bun's sockets: a bare TCP relay that
// pairs each client connection with one connection to a backend (round
// robin over the given ports) and copies bytes both ways — no HTTP parsing,
// no balancing per request, no policy, no metrics. bench/invoke.ts runs it
// beside corral and HAProxy so the cost of the runtime itself is measured
// in the same run, not assumed.
//   bun bench/support/bare-relay.ts <backend port>...   prints "READY <port>"
import type { Socket } from "bun";

const ports = process.argv.slice(2).map(Number);
if (!ports.length || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
  console.error("usage: bun bench/support/bare-relay.ts <backend port>...");
  process.exit(2);
}

/** A short write would need queueing (backpressure); the floor skips that, so it closes instead of corrupting. */
function send(to: Socket<Side>, d: Uint8Array): void {
  if (to.write(d) < d.byteLength) to.terminate();
}

interface Side {
  peer: Socket<Side> | null;
  /** Bytes that arrived before the other side was connected. */
  early: Uint8Array[];
}

let next = 0;

const server = Bun.listen<Side>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(client) {
      client.data = { peer: null, early: [] };
      const port = ports[next++ % ports.length]!;
      void Bun.connect<Side>({
        hostname: "127.0.0.1",
        port,
        socket: {
          open(up) {
            up.data = { peer: client, early: [] };
            client.data.peer = up;
            for (const b of client.data.early) send(up, b);
            client.data.early = [];
          },
          data(up, d) {
            if (up.data.peer) send(up.data.peer, d);
          },
          close(up) {
            up.data.peer?.end();
          },
        },
      }).catch(() => client.end());
    },
    data(client, d) {
      if (client.data.peer) send(client.data.peer, d);
      else client.data.early.push(new Uint8Array(d));
    },
    close(client) {
      client.data.peer?.end();
    },
  },
});

console.log(`READY ${server.port}`);
