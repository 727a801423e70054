// `[plugins.exec]` config: logs, cgroups, kill grace, memory watchdog.
import { z } from "zod";
import { durationMs, sizeBytes } from "../../core/config/duration.ts";

export const execConfigSchema = z
  .object({
    /** A task's stdout (or stderr) file is rotated past this size. */
    max_log_file_bytes: sizeBytes({ min: 1024, max: 1024 ** 3 }).prefault("10MiB"),
    /** Files kept per stream and task, the current one included. */
    max_log_files: z.number().int().min(1).max(100).default(5),
    /** Where cgroup v2 is mounted; "" never uses cgroups (the RSS watchdog enforces memory). */
    cgroup_root: z.string().max(1024).default("/sys/fs/cgroup"),
    /** Grace between SIGTERM and SIGKILL when a task is stopped. */
    kill_timeout: durationMs({ min: 0, max: 10 * 60_000 }).prefault("5s"),
    /** How often the watchdog samples task memory when cgroups are not used. */
    watchdog_interval: durationMs({ min: 50, max: 60_000 }).prefault("500ms"),
    /**
     * Run the http and tcp checks of job services here and report them to the
     * discovery plugin: true, false, or "auto" — only while the health plugin
     * (which runs every check of the node's services) is not enabled.
     */
    run_checks: z.union([z.boolean(), z.literal("auto")]).default("auto"),
  })
  .strict();

export type ExecConfig = z.output<typeof execConfigSchema>;
