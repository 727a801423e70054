// Telling HTTP/2 from HTTP/1.1 on one port: a prior-knowledge h2c client
// (gRPC with insecure credentials, curl --http2-prior-knowledge) opens with
// the fixed connection preface (RFC 9113 §3.4); no HTTP/1.x request starts
// with "PRI * HTTP/2.0".

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Does the first chunk a client sent start the h2 preface? Compared as far as
 * it goes (a chunk shorter than the preface is judged on what it holds), but
 * at least "PRI " must be there: "P" alone could be a POST.
 */
export function isH2Preface(first: Uint8Array): boolean {
  if (first.byteLength < 4 || first[0] !== 0x50) return false;
  const n = Math.min(first.byteLength, PREFACE.byteLength);
  for (let i = 1; i < n; i++) if (first[i] !== PREFACE[i]) return false;
  return true;
}
