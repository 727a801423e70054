// The job spec's storage blocks, Nomad's shapes in corral's TOML spelling:
//   [[groups.tasks.artifacts]]      source, destination, checksum, mode
//   [groups.volumes.<name>]         type = "host", source, read_only
//   [[groups.tasks.volume_mounts]]  volume, destination, read_only
// Validation here (schema.ts plugs these in), the agent's side in
// plugins/exec/artifacts.ts and plugins/exec/volumes.ts.
import { z } from "zod";

export const LIMITS_STORAGE = { artifactsPerTask: 32, mountsPerTask: 32, volumesPerGroup: 32 };

/** A fetched file or archive (Nomad's TaskArtifact). */
export interface TaskArtifact {
  /** http:// or https:// only. */
  source: string;
  /** Relative to the task folder; a folder (archives, mode "any"/"dir") or the file itself (mode "file"). */
  destination: string;
  /** "sha256:<hex>" or "sha512:<hex>": verified before anything is unpacked or made visible. */
  checksum?: string;
  /** "any": archives unpacked, other files kept; "file": never unpacked; "dir": must be an archive. */
  mode: "any" | "file" | "dir";
}

/** A group's claim on a volume of its node (Nomad's VolumeRequest; only type "host"). */
export interface VolumeRequest {
  type: "host";
  /** The host volume's name in the node's `[node.host_volumes.<name>]`. */
  source: string;
  readOnly: boolean;
}

/** Where a task sees one of its group's volumes (Nomad's VolumeMount). */
export interface VolumeMount {
  /** A key of the group's `volumes`. */
  volume: string;
  /** Relative to the task folder. */
  destination: string;
  readOnly: boolean;
}

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;
const CHECKSUM = /^(sha256:[0-9a-fA-F]{64}|sha512:[0-9a-fA-F]{128})$/;

/** A relative path that stays inside the folder it is relative to: no leading "/", no "..". */
export function isInsidePath(p: string): boolean {
  return p !== "" && !p.startsWith("/") && !p.split("/").includes("..") && !p.includes("\0");
}

const insidePath = (what: string) =>
  z.string().min(1).max(1024).refine(isInsidePath, `${what} must be a relative path inside the task directory (no leading "/", no "..")`);

export const artifactSpec = z.strictObject({
  source: z.string().min(1).max(4096).refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }, "must be an http:// or https:// URL"),
  destination: insidePath("destination").default("local/"),
  checksum: z.string().regex(CHECKSUM, `"sha256:<64 hex digits>" or "sha512:<128 hex digits>"`).optional(),
  mode: z.enum(["any", "file", "dir"], { error: `the modes are "any", "file" and "dir"` }).default("any"),
});

export const volumeMountSpec = z.strictObject({
  volume: z.string().regex(VOLUME_NAME, "a volume name of the group"),
  destination: insidePath("destination"),
  read_only: z.boolean().default(false),
});

export const groupVolumesSpec = z
  .record(z.string().regex(VOLUME_NAME, "volume names are letters, digits, \"_\", \".\" and \"-\""), z.strictObject({
    type: z.literal("host", { error: `the only volume type is "host"` }),
    source: z.string().regex(VOLUME_NAME, "the name of a host volume of the node"),
    read_only: z.boolean().default(false),
  }))
  .refine((v) => Object.keys(v).length <= LIMITS_STORAGE.volumesPerGroup, `at most ${LIMITS_STORAGE.volumesPerGroup} volumes`)
  .default({});

/** Every volume_mounts entry names a volume of its group. */
export function checkVolumeMounts(
  g: { volumes: Record<string, unknown>; tasks: { volume_mounts: { volume: string }[] }[] },
  ctx: z.RefinementCtx,
): void {
  const names = Object.keys(g.volumes);
  g.tasks.forEach((t, i) => t.volume_mounts.forEach((m, j) => {
    if (!(m.volume in g.volumes)) {
      ctx.addIssue({ code: "custom", path: ["tasks", i, "volume_mounts", j, "volume"], message: `no volume "${m.volume}" in this group's volumes (have: ${names.join(", ") || "none"})` });
    }
  }));
}

export function normalizeArtifact(a: z.output<typeof artifactSpec>): TaskArtifact {
  return { source: a.source, destination: a.destination, ...(a.checksum ? { checksum: a.checksum.toLowerCase() } : {}), mode: a.mode };
}

export function normalizeVolumeMount(m: z.output<typeof volumeMountSpec>): VolumeMount {
  return { volume: m.volume, destination: m.destination, readOnly: m.read_only };
}

export function normalizeVolumes(v: z.output<typeof groupVolumesSpec>): Record<string, VolumeRequest> {
  return Object.fromEntries(Object.entries(v).map(([name, r]) => [name, { type: r.type, source: r.source, readOnly: r.read_only }]));
}

/** Whether a job has artifacts or host volumes (fields the release before them does not store). */
export function usesTaskStorage(job: { groups: { volumes?: object; tasks: { artifacts?: unknown[]; volumeMounts?: unknown[] }[] }[] }): boolean {
  return job.groups.some((g) => g.volumes !== undefined || g.tasks.some((t) => t.artifacts !== undefined || t.volumeMounts !== undefined));
}
