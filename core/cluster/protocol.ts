// Agent → leader RPC bodies (POST /v1/cluster/join, /v1/cluster/heartbeat).
import { z } from "zod";

export const LiveSample = z.object({
  time: z.number(),
  cpuPercent: z.number().min(0).max(100),
  memoryUsedBytes: z.number().nonnegative(),
  memoryAvailableBytes: z.number().nonnegative(),
  load1: z.number().nonnegative(),
  load5: z.number().nonnegative(),
  load15: z.number().nonnegative(),
});
export type LiveSample = z.infer<typeof LiveSample>;

export const JoinRequest = z.object({
  id: z.string().uuid(),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/),
  address: z.string().max(300),
  datacenter: z.string().max(64),
  role: z.enum(["agent", "dev"]),
  attributes: z.record(z.string().max(200), z.string().max(2000)),
  resources: z.object({
    cpuMhz: z.number().nonnegative(),
    cores: z.number().int().nonnegative(),
    memoryBytes: z.number().nonnegative(),
    diskBytes: z.number().nonnegative(),
  }),
  reserved: z.object({ cpuMhz: z.number().nonnegative(), memoryBytes: z.number().nonnegative() }),
  meta: z.record(z.string().max(200), z.string().max(2000)).default({}),
});
export type JoinRequest = z.infer<typeof JoinRequest>;

export const HeartbeatRequest = z.object({
  id: z.string().uuid(),
  sample: LiveSample.optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export interface JoinResponse {
  nodeId: string;
  index: number;
  /** The interval the leader asks for, 0 when the cluster is small enough for the agent's own (core/cluster/heartbeat-rate.ts). */
  heartbeatMs: number;
}

export interface HeartbeatResponse {
  ok: true;
  status: "ready" | "down";
  /** The interval the leader asks for now; absent from leaders of earlier releases. */
  heartbeatMs?: number;
}
