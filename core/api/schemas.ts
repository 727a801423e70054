// Response schemas shared by core routes (they document /v1/openapi.json).
import { z } from "@hono/zod-openapi";

export const ErrorBody = z
  .object({ error: z.string(), code: z.string() })
  .openapi("Error");

export const errorResponses = {
  400: { description: "Invalid input", content: { "application/json": { schema: ErrorBody } } },
  404: { description: "Not found", content: { "application/json": { schema: ErrorBody } } },
} as const;

export function jsonResponse<T extends z.ZodType>(schema: T, description = "OK") {
  return { 200: { description, content: { "application/json": { schema } } } } as const;
}

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { body: { required: true, content: { "application/json": { schema } } } } as const;
}

export const NodeView = z
  .object({
    id: z.string(),
    name: z.string(),
    address: z.string(),
    datacenter: z.string(),
    role: z.string(),
    status: z.enum(["ready", "down"]),
    attributes: z.record(z.string(), z.string()),
    resources: z.object({ cpuMhz: z.number(), cores: z.number(), memoryBytes: z.number(), diskBytes: z.number() }),
    reserved: z.object({ cpuMhz: z.number(), memoryBytes: z.number() }),
    meta: z.record(z.string(), z.string()),
    statusChangedAt: z.number(),
    lastHeartbeatAt: z.number().nullable(),
    /** Node-level health from the leader's CPU/memory thresholds (docs/monitoring.md). */
    health: z.enum(["passing", "warning"]),
    healthReason: z.string(),
    healthChangedAt: z.number(),
    createIndex: z.number(),
    modifyIndex: z.number(),
  })
  .openapi("Node");

export const PluginView = z
  .object({
    name: z.string(),
    version: z.string(),
    description: z.string(),
    source: z.enum(["builtin", "external"]),
    path: z.string().optional(),
    state: z.enum(["disabled", "enabled", "failed"]),
    error: z.string().optional(),
    since: z.number(),
    reloads: z.number(),
  })
  .openapi("Plugin");

/** A path parameter the route's schema has already validated. */
export function pathParam(c: { req: { param(name: string): string | undefined } }, name: string): string {
  const v = c.req.param(name);
  if (v === undefined) throw new Error(`route has no path parameter ${name}`);
  return v;
}
