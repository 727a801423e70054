// DNS on the wire for the tests: dns-packet decoding (@types/dns-packet
// leaves out the rcode and opcode names that decode() does return) and
// queries over UDP and TCP to a port on 127.0.0.1.
import dgram from "node:dgram";
import net from "node:net";
import * as dnsPacket from "dns-packet";

export type Decoded = dnsPacket.DecodedPacket & { rcode: string; opcode: string };

export function decode(buf: Buffer): Decoded {
  return dnsPacket.decode(buf) as Decoded;
}

export function encodeQuery(name: string, type: string, id: number): Buffer {
  return dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as dnsPacket.RecordType }] });
}

export async function udpQuery(port: number, name: string, type: string): Promise<Decoded> {
  const s = dgram.createSocket("udp4");
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("udp query timed out")), 2000);
      s.on("message", (m) => {
        clearTimeout(timer);
        resolve(decode(m));
      });
      s.send(encodeQuery(name, type, 77), port, "127.0.0.1");
    });
  } finally {
    s.close();
  }
}

export function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/** Reads `count` framed responses from a TCP socket. */
export function readFrames(sock: net.Socket, count: number): Promise<Decoded[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const out: Decoded[] = [];
    const timer = setTimeout(() => reject(new Error(`got ${out.length} of ${count} responses`)), 3000);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        out.push(decode(buf.subarray(2, 2 + len)));
        buf = buf.subarray(2 + len);
      }
      if (out.length >= count) {
        clearTimeout(timer);
        resolve(out);
      }
    });
  });
}

export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}
