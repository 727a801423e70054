// The agent's own registrations: the source of truth for its node's part of
// the catalog (Consul's agent "local state"). Kept in
// <dataDir>/discovery/services.json, written atomically (temp file, fsync,
// rename) on every change, so a kill -9 leaves either the old or the new
// file and a restarted agent re-syncs exactly what it had.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { CatalogServiceDef, CheckStatus, MAX_CHECK_OUTPUT, type CatalogCheckDef } from "../../core/sdk/index.ts";
import type { CheckSpec } from "./check-definition.ts";

export interface LocalCheck {
  spec: CheckSpec;
  status: CheckStatus;
  output: string;
  /** ms since epoch the check last turned critical (DeregisterCriticalServiceAfter). */
  criticalSince?: number;
}

const CheckSpecSchema = z.object({
  id: z.string(), name: z.string(), serviceId: z.string(), notes: z.string(),
  type: z.enum(["ttl", "http", "tcp", "grpc", "script", "maintenance"]), status: CheckStatus,
  ttlMs: z.number().optional(), deregisterAfterMs: z.number().optional(),
  definition: z.record(z.string(), z.unknown()),
});
const FileSchema = z.object({
  version: z.literal(1),
  services: z.array(CatalogServiceDef),
  checks: z.array(z.object({ spec: CheckSpecSchema, status: CheckStatus, output: z.string(), criticalSince: z.number().optional() })),
});

export type StatusChange = "status" | "output" | "none";

export class LocalRegistry {
  private services = new Map<string, CatalogServiceDef>();
  private checks = new Map<string, LocalCheck>();
  /** Moves on every change of what the catalog would hold (sync.ts caches its digest by it). */
  version = 0;

  constructor(private file: string) {}

  /** Reads the file; a missing file is an empty registry. Throws on a corrupt one (the caller decides). */
  load(): void {
    if (!existsSync(this.file)) return;
    const data = FileSchema.parse(JSON.parse(readFileSync(this.file, "utf8")));
    this.services = new Map(data.services.map((s) => [s.id, s]));
    this.checks = new Map(data.checks.map((c) => [c.spec.id, c]));
    this.version++;
  }

  save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const body = JSON.stringify({ version: 1, services: [...this.services.values()], checks: [...this.checks.values()] }, null, 1);
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }

  listServices(): CatalogServiceDef[] {
    return [...this.services.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
  service(id: string): CatalogServiceDef | undefined {
    return this.services.get(id);
  }
  listChecks(): LocalCheck[] {
    return [...this.checks.values()].sort((a, b) => a.spec.id.localeCompare(b.spec.id));
  }
  check(id: string): LocalCheck | undefined {
    return this.checks.get(id);
  }
  /** Every check, unsorted (hot paths: the reaper, counts). */
  allChecks(): IterableIterator<LocalCheck> {
    return this.checks.values();
  }
  checkCount(): number {
    return this.checks.size;
  }
  serviceCount(): number {
    return this.services.size;
  }
  /** One pass and a sort of the few: listChecks() would sort every check of the node. */
  checksOf(serviceId: string): LocalCheck[] {
    const out: LocalCheck[] = [];
    for (const c of this.checks.values()) if (c.spec.serviceId === serviceId) out.push(c);
    return out.sort((a, b) => a.spec.id.localeCompare(b.spec.id));
  }

  /**
   * Adds or replaces a service. Checks that keep their CheckID keep their
   * status and output (§4.1); with `replaceChecks` the service's checks
   * missing from `checks` are dropped. Returns the IDs of dropped checks.
   */
  putService(svc: CatalogServiceDef, checks: CheckSpec[], replaceChecks: boolean, now: number): string[] {
    this.version++;
    this.services.set(svc.id, svc);
    const keep = new Set(checks.map((c) => c.id));
    const dropped = replaceChecks ? this.checksOf(svc.id).filter((c) => !keep.has(c.spec.id)).map((c) => c.spec.id) : [];
    for (const id of dropped) this.checks.delete(id);
    for (const spec of checks) this.putCheck(spec, now);
    return dropped;
  }

  /** Removes a service and its checks; returns the removed check IDs (undefined when unknown). */
  removeService(id: string): string[] | undefined {
    if (!this.services.delete(id)) return undefined;
    this.version++;
    const gone = this.checksOf(id).map((c) => c.spec.id);
    for (const c of gone) this.checks.delete(c);
    return gone;
  }

  putCheck(spec: CheckSpec, now: number): void {
    this.version++;
    const prev = this.checks.get(spec.id);
    const status = prev ? prev.status : spec.status;
    const output = prev ? prev.output : "";
    const criticalSince = status === "critical" ? (prev?.criticalSince ?? now) : undefined;
    this.checks.set(spec.id, { spec, status, output, criticalSince });
  }

  removeCheck(id: string): boolean {
    this.version++;
    return this.checks.delete(id);
  }

  /** Records a check result; says whether the status, only the output, or nothing changed. */
  setStatus(id: string, status: CheckStatus, output: string, now: number): StatusChange {
    const c = this.checks.get(id);
    if (!c) return "none";
    const out = output.length > MAX_CHECK_OUTPUT ? output.slice(0, MAX_CHECK_OUTPUT) : output;
    if (c.status !== status) {
      this.version++;
      c.status = status;
      c.output = out;
      c.criticalSince = status === "critical" ? now : undefined;
      return "status";
    }
    if (c.output !== out) {
      this.version++;
      c.output = out;
      return "output";
    }
    return "none";
  }

  /** A check as the catalog stores it. */
  static toCatalog(c: LocalCheck): CatalogCheckDef {
    return { id: c.spec.id, name: c.spec.name, status: c.status, notes: c.spec.notes, output: c.output, serviceId: c.spec.serviceId, type: c.spec.type, definition: c.spec.definition };
  }
}
