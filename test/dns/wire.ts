// dns-packet decoding for the tests: @types/dns-packet leaves out the rcode
// and opcode names that decode() does return.
import * as dnsPacket from "dns-packet";

export type Decoded = dnsPacket.DecodedPacket & { rcode: string; opcode: string };

export function decode(buf: Buffer): Decoded {
  return dnsPacket.decode(buf) as Decoded;
}
