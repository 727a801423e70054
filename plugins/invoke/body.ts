// The request body as it will be sent upstream: none, a small buffer (can be
// sent again on a retry), or the client's stream passed through untouched
// (one attempt only: its bytes are gone once sent).

export interface Payload {
  body: ArrayBuffer | ReadableStream<Uint8Array> | null;
  /** The declared size; -1 when unknown (chunked). */
  length: number;
  /** May be sent more than once. */
  replayable: boolean;
  /** The body is the client's stream (fetch needs duplex: "half"). */
  stream: boolean;
}

const NONE: Payload = { body: null, length: 0, replayable: true, stream: false };

export async function readBody(req: Request, bufferUpTo: number): Promise<Payload> {
  if (req.method === "GET" || req.method === "HEAD") return NONE;
  const declared = req.headers.get("content-length");
  const length = declared === null ? -1 : Number(declared);
  if (length === 0 || !req.body) return NONE;
  if (length > 0 && length <= bufferUpTo) return { body: await req.arrayBuffer(), length, replayable: true, stream: false };
  return { body: req.body, length, replayable: false, stream: true };
}

/** Passes the stream on, erroring it (so the upstream request fails) once it carries more than `max` bytes. */
export function limitBody(body: ReadableStream<Uint8Array>, max: number): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        seen += chunk.byteLength;
        if (seen > max) ctl.error(new Error(`request body is larger than ${max} bytes`));
        else ctl.enqueue(chunk);
      },
    }),
  );
}
