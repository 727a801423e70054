// "Every capability" for a privileged container is every capability the
// agent itself may hand on: its bounding set (/proc/self/status CapBnd), as
// Docker's --privileged does. A kernel may know fewer than LINUX_CAPABILITIES,
// and an agent run inside a restricted container or service unit may have
// fewer: asking runc for one beyond it fails the start ("unable to apply caps").
import { readFileSync } from "node:fs";
import { LINUX_CAPABILITIES } from "../../core/sdk/index.ts";

/** The capabilities of a CapBnd/CapEff hex mask (bit n = capability number n). Pure. */
export function capabilitiesOfMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return LINUX_CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n);
}

/** The agent's bounding set; every known capability when it cannot be read. */
export function agentBoundingCapabilities(status = "/proc/self/status"): string[] {
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync(status, "utf8"));
    if (m) return capabilitiesOfMask(m[1]!);
  } catch {}
  return [...LINUX_CAPABILITIES];
}
