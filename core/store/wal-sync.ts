// Makes a SQLite database's committed-but-unsynced WAL frames durable off the
// event loop: fdatasync of the -wal file on the runtime's thread pool. A
// Raft leader commits its new entries with synchronous = NORMAL (the frames
// are written, not flushed) and then calls walSync(); every frame written
// before the call is on disk when `done` runs. SQLite recovers a WAL as its
// longest valid prefix of frames (each frame's checksum chains to the one
// before), so a crash before the flush loses a suffix of commits, never a
// middle one. Checkpoints keep their own syncs (NORMAL syncs the WAL before
// copying it into the database and the database after), so a WAL reset
// never drops frames that are not already in the synced database file.
import { close, fdatasync, open } from "node:fs";

/**
 * fdatasync `<dbPath>-wal` as it is now; `done` once that returned (with an
 * error: the writes may not be durable). The file is opened by name for each
 * sync and closed after it, all on the thread pool (nothing on the event
 * loop but the call), so the sync always reaches the WAL SQLite writes, with
 * no descriptor to keep or leak. Opening after the call is fine: the flush
 * covers whatever the file holds when it runs.
 */
export function walSync(dbPath: string, done: (err?: Error) => void): void {
  open(`${dbPath}-wal`, "r", (openErr, fd) => {
    if (openErr) return done(openErr);
    fdatasync(fd, (syncErr) => close(fd, () => done(syncErr ?? undefined)));
  });
}
