// Checks a validated config against the machine, before anything starts:
// what the schema cannot see (it has no I/O) but start would trip over. Run by
// every path that loads a node's config (start, SIGHUP, `config check`) so
// that `config check` passes only what start accepts.
//   - [tls] files must be readable (start reads them before it listens).
import { accessSync, constants, readFileSync } from "node:fs";
import { ConfigError, type ConfigIssue } from "./issues.ts";
import { locate } from "./locate.ts";
import type { Config } from "./types.ts";

export function preflight(config: Config, env: Record<string, string | undefined> = process.env): void {
  const issues: ConfigIssue[] = [];
  let text: string | undefined;
  const lineOf = (key: string): number | undefined => {
    if (!config.file) return undefined;
    try {
      text ??= readFileSync(config.file, "utf8");
    } catch {
      return undefined;
    }
    return locate(text, ["tls", key]);
  };
  const files: Array<[string, string]> = [["cert_file", config.tls.certFile], ["key_file", config.tls.keyFile], ["ca_file", config.tls.caFile]];
  for (const [key, path] of files) {
    if (!path) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      const reason = `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      const envName = `CORRAL_TLS_${key.toUpperCase()}`;
      if (env[envName] === path) {
        issues.push({ file: "env", keyPath: envName, reason });
        continue;
      }
      const line = lineOf(key);
      issues.push({ file: config.file ?? "(defaults)", ...(line !== undefined ? { line } : {}), keyPath: `tls.${key}`, reason });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}
