// The Raft log journal's file in memory (core/cluster/raft/log-journal.ts),
// for the simulator, where a node's "disk" is memory that survives its
// crashes: every write is kept, as a process crash keeps them.
import type { JournalFile } from "../../core/cluster/raft/log-journal.ts";

export class MemoryJournalFile implements JournalFile {
  private bytes = new Uint8Array(0);
  syncs = 0;

  read(): Uint8Array {
    return this.bytes.slice();
  }

  write(offset: number, data: Uint8Array): void {
    if (offset + data.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(offset + data.length, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes.set(data, offset);
  }

  sync(): void {
    this.syncs++;
  }

  close(): void {}
}
