// Idle h2 client connections, for the servers that accept them (the proxy
// listener's h2 side, front.ts; the mesh listener's, mesh-server-h2.ts).

/** What closeWhenIdle needs of a node:http2 server session. */
interface IdleSession {
  closed: boolean;
  destroyed: boolean;
  close(): void;
  on(event: "stream", listener: (stream: { once(event: "close", listener: () => void): unknown }) => void): unknown;
  once(event: "close", listener: () => void): unknown;
}

/**
 * Closes a client's session once it has had no open stream for idleMs: an
 * idle connection must not be held forever (the HTTP/1.1 side's idle sweep
 * does the same), while a stream that is open but quiet (a watch over bidi
 * gRPC) keeps its connection.
 */
export function closeWhenIdle(session: IdleSession, idleMs: number): void {
  let open = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const arm = () => {
    timer = setTimeout(() => {
      timer = null;
      if (open === 0 && !session.closed && !session.destroyed) session.close();
    }, idleMs);
    timer.unref?.();
  };
  session.on("stream", (stream) => {
    open++;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    stream.once("close", () => {
      if (--open === 0 && !session.closed) arm();
    });
  });
  session.once("close", () => timer && clearTimeout(timer));
  arm();
}
