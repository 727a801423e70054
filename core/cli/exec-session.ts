// The client side of an interactive `corral alloc exec` session
// (plugins/exec/exec-ws.ts, Nomad's frames): this process's stdin as stdin
// frames, the remote output on stdout/stderr, the exit code back. With a
// terminal, stdin goes raw (every key, ^C included, goes to the remote
// terminal, which interprets it), the window size is sent first and on every
// SIGWINCH, and the terminal is restored however the session ends.

type Frame = { stdout?: { data: string }; stderr?: { data: string }; exited?: boolean; result?: { exit_code: number }; error?: string };

export interface SessionIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export type SessionResult =
  | { kind: "exited"; code: number }
  /** The socket never opened: the caller asks why (a plain GET answers with the refusal). */
  | { kind: "not-opened" }
  | { kind: "lost"; reason: string };

export interface SessionOptions {
  tty: boolean;
  /** Send this process's stdin; else the remote stdin is closed at once. */
  stdin: boolean;
  /** Close the session (ending the command) after this long. */
  timeoutMs?: number;
}

export function runSession(ws: WebSocket, o: SessionOptions, io: SessionIo): Promise<SessionResult> {
  return new Promise((resolve) => {
    let opened = false;
    let exit: number | undefined;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const raw = o.tty && io.stdin.isTTY === true;
    const send = (f: unknown) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(f));
    };
    const sendSize = () => {
      if (io.stdout.columns && io.stdout.rows) send({ tty_size: { height: io.stdout.rows, width: io.stdout.columns } });
    };
    const onData = (b: Buffer) => send({ stdin: { data: b.toString("base64") } });
    const onEnd = () => send({ stdin: { close: true } });
    const restore = () => {
      process.off("SIGWINCH", sendSize);
      io.stdin.off("data", onData);
      io.stdin.off("end", onEnd);
      if (raw) {
        try {
          io.stdin.setRawMode(false);
        } catch {}
      }
      io.stdin.pause();
      process.off("exit", restore);
    };
    // However this process ends, the user's terminal is left as it was found.
    process.on("exit", restore);
    const settle = (r: SessionResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      restore();
      resolve(r);
    };
    ws.onopen = () => {
      opened = true;
      if (o.tty) {
        sendSize();
        process.on("SIGWINCH", sendSize);
      }
      if (raw) io.stdin.setRawMode(true);
      if (o.stdin) {
        io.stdin.on("data", onData);
        io.stdin.on("end", onEnd);
        io.stdin.resume();
      } else onEnd();
      if (o.timeoutMs) {
        timer = setTimeout(() => {
          io.stderr.write(`\r\ncorral: the session's time limit (${Math.round(o.timeoutMs! / 1000)}s) ended it\r\n`);
          ws.close();
        }, o.timeoutMs);
      }
    };
    ws.onmessage = (e) => {
      const f = JSON.parse(String(e.data)) as Frame;
      if (f.stdout?.data) io.stdout.write(Buffer.from(f.stdout.data, "base64"));
      if (f.stderr?.data) io.stderr.write(Buffer.from(f.stderr.data, "base64"));
      if (f.exited) {
        exit = f.result?.exit_code ?? 1;
        if (f.error) io.stderr.write(`corral: ${f.error}\n`);
      }
    };
    ws.onerror = () => {}; // onclose follows
    ws.onclose = (e) => {
      if (exit !== undefined) settle({ kind: "exited", code: exit });
      else if (!opened) settle({ kind: "not-opened" });
      else settle({ kind: "lost", reason: e.reason || `closed with code ${e.code}` });
    };
  });
}
