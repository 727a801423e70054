// The driver's sendAfterAnswer (core/raft/driver.ts) over a real transport:
// messages of a Ready that only committed and applied (a leader's Appends
// telling followers the new commit index) are held until the next turn of
// the event loop, so the client answer that Ready settled is written first.
// The answer is a promise resolved after the Ready: it runs as a microtask,
// which comes before setImmediate; sending those messages synchronously put
// two WebSocket writes (~25-100 µs each under load) between the commit and
// the answer at one client (docs/raft.md, "Where one commit's time goes").
//
// Order is kept: anything sent after a hold first flushes what is held, so a
// peer's stream still sees one node's messages in the order Raft made them.
// A hold lost with the process is a message the network dropped, which Raft
// recovers from (it resends Appends; the commit index rides on the next one).
import type { Message } from "../../raft/index.ts";
import type { RaftTransport } from "./transport.ts";

export class AnswerFirstTransport implements RaftTransport {
  private held: Message[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(private readonly inner: RaftTransport) {}

  send(messages: Message[]): void {
    this.flush();
    this.inner.send(messages);
  }

  sendAfterAnswer(messages: Message[]): void {
    if (this.closed) return;
    for (const m of messages) this.held.push(m);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  close(): void {
    this.closed = true;
    this.held = [];
    this.inner.close();
  }

  private flush(): void {
    if (this.held.length === 0 || this.closed) return;
    const out = this.held;
    this.held = [];
    this.inner.send(out);
  }
}
