// GET /v1/probe: this node's fingerprint and latest live sample, described
// for the OpenAPI document at /v1/openapi.json.
import { createRoute, z } from "@hono/zod-openapi";

export const SampleSchema = z
  .object({
    time: z.number().int().openapi({ description: "ms since the epoch" }),
    cpuPercent: z.number().min(0).max(100).openapi({ description: "busy share of all logical CPUs since the previous sample" }),
    memoryUsedBytes: z.number().int().nonnegative().openapi({ description: "total − available" }),
    memoryAvailableBytes: z.number().int().nonnegative(),
    load1: z.number().nonnegative(),
    load5: z.number().nonnegative(),
    load15: z.number().nonnegative(),
  })
  .openapi("ProbeSample");

export const FingerprintSchema = z
  .object({
    attributes: z.record(z.string(), z.string()),
    resources: z.object({
      cpuMhz: z.number().int().nonnegative(),
      cores: z.number().int().positive(),
      memoryBytes: z.number().int().nonnegative(),
      diskBytes: z.number().int().nonnegative(),
    }),
    reserved: z.object({
      cpuMhz: z.number().int().nonnegative(),
      memoryBytes: z.number().int().nonnegative(),
    }),
    warnings: z.array(z.string()),
  })
  .openapi("ProbeFingerprint");

export const ProbeResponseSchema = z
  .object({
    fingerprint: FingerprintSchema,
    sample: SampleSchema.nullable().openapi({ description: "null until the first sample is taken" }),
  })
  .openapi("ProbeResponse");

export type ProbeResponse = z.infer<typeof ProbeResponseSchema>;

export const probeRoute = createRoute({
  method: "get",
  path: "/v1/probe",
  tags: ["probe"],
  summary: "Host fingerprint and latest live sample of this node",
  responses: {
    200: {
      description: "Fingerprint taken when the plugin started, and the latest sample",
      content: { "application/json": { schema: ProbeResponseSchema } },
    },
  },
});
