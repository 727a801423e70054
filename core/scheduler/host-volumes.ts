// Host volumes as the scheduler sees them (Nomad's HostVolumeChecker): a
// node reports each `[node.host_volumes.<name>]` of its config as node
// attributes, and a group that asks for a volume is placed only on nodes
// that have it (and, when the group wants to write, where it is writable).
// Pure.
import type { NodeView } from "./types.ts";
import type { TaskGroup } from "./jobspec/types.ts";

/** `host_volume.<name>.path`: the host folder; `host_volume.<name>.read_only`: "true" | "false". */
export const hostVolumePathAttribute = (name: string) => `host_volume.${name}.path`;
export const hostVolumeReadOnlyAttribute = (name: string) => `host_volume.${name}.read_only`;

export interface HostVolumeConfig {
  path: string;
  readOnly: boolean;
}

/** The node attributes that announce its host volumes. */
export function hostVolumeAttributes(volumes: Readonly<Record<string, HostVolumeConfig>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(volumes)) {
    out[hostVolumePathAttribute(name)] = v.path;
    out[hostVolumeReadOnlyAttribute(name)] = String(v.readOnly);
  }
  return out;
}

/** The node's host volumes read back from its attributes (the agent mounts what it registered). */
export function hostVolumesOf(attributes: Readonly<Record<string, string>>): Record<string, HostVolumeConfig> {
  const out: Record<string, HostVolumeConfig> = {};
  for (const [k, v] of Object.entries(attributes)) {
    const m = /^host_volume\.(.+)\.path$/.exec(k);
    if (m) out[m[1]!] = { path: v, readOnly: attributes[hostVolumeReadOnlyAttribute(m[1]!)] === "true" };
  }
  return out;
}

/** One predicate per volume the group asks for; `text` is the filter reason placement failures show. */
export function hostVolumeChecks(group: Pick<TaskGroup, "volumes">): { text: string; test: (n: NodeView) => boolean }[] {
  return Object.values(group.volumes ?? {}).flatMap((v) => {
    const has = { text: `missing host volume "${v.source}"`, test: (n: NodeView) => n.attributes[hostVolumePathAttribute(v.source)] !== undefined };
    if (v.readOnly) return [has];
    return [has, { text: `host volume "${v.source}" is read-only`, test: (n: NodeView) => n.attributes[hostVolumeReadOnlyAttribute(v.source)] !== "true" }];
  });
}
