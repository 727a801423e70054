// Reads a request body into memory, but never more than `maxBytes`: a
// declared Content-Length over the cap is refused before any byte is read,
// and a chunked body (no Content-Length) is cancelled as soon as it passes
// the cap. So a caller can make this node hold at most maxBytes (plus one
// network chunk) per request, whatever it sends.
export async function readCapped(req: Request, maxBytes: number): Promise<Uint8Array | undefined> {
  const declared = req.headers.get("content-length");
  if (declared !== null && !req.headers.has("transfer-encoding") && Number(declared) > maxBytes) return undefined;
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}

/** The chunks as one array (`size`: their total length); a single chunk as it is. */
export function concatBytes(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
