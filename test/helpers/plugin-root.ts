// Where tests put a plugins.dir. corral refuses one whose parents other users
// may write (core/plugins/trust.ts), a sticky /tmp included, and a checkout
// may itself live under /tmp (a CI clone). So: inside the checkout (.tmp/,
// where the fixtures' bare imports resolve from its node_modules) when
// corral would trust it there; else in a private folder under the home
// folder, with the checkout's node_modules linked beside the plugins so the
// same imports resolve.
import { createHash } from "node:crypto";
import { mkdirSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { checkPluginsDir, UntrustedPluginError } from "../../core/plugins/trust.ts";
import { ROOT } from "./proc.ts";

export function pluginTestRoot(): string {
  const inCheckout = join(ROOT, ".tmp");
  mkdirSync(inCheckout, { recursive: true, mode: 0o700 });
  try {
    checkPluginsDir(inCheckout);
    return inCheckout;
  } catch (err) {
    if (!(err instanceof UntrustedPluginError)) throw err;
  }
  // One folder per checkout: two checkouts' tests may run at once.
  const home = join(homedir(), ".cache", "corral-test-plugins", createHash("sha256").update(ROOT).digest("hex").slice(0, 12));
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const modules = join(home, "node_modules");
  const target = join(ROOT, "node_modules");
  let current: string | undefined;
  try {
    current = readlinkSync(modules);
  } catch {
    current = undefined;
  }
  if (current !== target) {
    rmSync(modules, { force: true, recursive: true });
    symlinkSync(target, modules);
  }
  return home;
}
