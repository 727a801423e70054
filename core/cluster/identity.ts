// A node's identity is a UUID kept in its data dir, so a restarted agent
// comes back as the same node (and its allocations and services with it).
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function loadOrCreateNodeId(dataDir: string): string {
  const file = join(dataDir, "node-id");
  if (existsSync(file)) {
    const id = readFileSync(file, "utf8").trim();
    if (UUID.test(id)) return id;
    throw new Error(`${file} does not hold a node id (a UUID); remove it to get a new identity`);
  }
  mkdirSync(dataDir, { recursive: true });
  const id = randomUUID();
  // Write-then-rename: a crash never leaves a half-written identity.
  writeFileSync(file + ".tmp", id + "\n", { mode: 0o600 });
  renameSync(file + ".tmp", file);
  return id;
}
