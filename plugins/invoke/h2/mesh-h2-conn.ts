// A connection to the mesh listener on Bun's TLS sockets (fast/mesh-listen.ts)
// that negotiated ALPN h2: the socket becomes a Duplex (sock-duplex.ts) served
// by mesh-server-h2.ts's node:http2 server, as the proxy listener hands an
// h2c connection to h2/front.ts; the listener's socket callbacks feed it.
// Closing an idle one is the h2 server's (idle.ts): the listener's HTTP/1.1
// idle sweep leaves it alone.
import type { Duplex } from "node:stream";
import type { MeshPeer } from "../mesh-server.ts";
import { SockDuplex, type RawSocket } from "./sock-duplex.ts";

/** What the mesh listener calls on a connection it serves (the same names as its HTTP/1.1 connections'). */
export interface MeshH2Conn {
  onData(d: Buffer): void;
  readonly out: { drain(): void };
  onClose(): void;
  closeIfIdle(before: number): void;
}

export function adoptMeshH2(sock: RawSocket, peer: MeshPeer, serve: (sock: Duplex, peer: MeshPeer) => void): MeshH2Conn {
  const duplex = new SockDuplex(sock);
  serve(duplex, peer);
  return {
    onData: (d) => duplex.onData(d),
    out: duplex.out,
    onClose: () => duplex.onClose(),
    closeIfIdle() {},
  };
}
