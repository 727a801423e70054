// `[node.host_volumes.<name>]`: folders of this host that jobs may mount
// (Nomad's client host_volume). Each must exist as a folder when the node
// starts: a typo would otherwise only show as tasks failing to mount.
import { statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { z } from "zod";
import type { HostVolumeConfig } from "../scheduler/host-volumes.ts";

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;

const hostVolumeTable = z.strictObject({
  path: z.string().min(1).max(1024).superRefine((p, ctx) => {
    if (!isAbsolute(p)) return void ctx.addIssue({ code: "custom", message: `must be an absolute path, got ${JSON.stringify(p)}` });
    let dir = false;
    try {
      dir = statSync(p).isDirectory();
    } catch (err) {
      return void ctx.addIssue({ code: "custom", message: `${p} does not exist (${(err as NodeJS.ErrnoException).code ?? "error"}): create the folder or remove the volume` });
    }
    if (!dir) ctx.addIssue({ code: "custom", message: `${p} is not a folder` });
  }),
  read_only: z.boolean().default(false),
});

/** A table, or just the path (read-write): what CORRAL_NODE_HOST_VOLUMES="data=/srv/data" gives. */
const hostVolume = z.preprocess((v) => (typeof v === "string" ? { path: v } : v), hostVolumeTable);

export const hostVolumesSchema = z
  .record(z.string().regex(VOLUME_NAME, "volume names are letters, digits, \"_\", \".\" and \"-\" (up to 64)"), hostVolume)
  .transform((v): Record<string, HostVolumeConfig> =>
    Object.fromEntries(Object.entries(v).map(([name, h]) => [name, { path: h.path, readOnly: h.read_only }])));
