// The exec plugin's part of the node's registration: what its driver may run
// here, for placement (core/scheduler/raw.ts), and whether tasks can be
// isolated (sandbox-host.ts): tasks requiring it go only where they can be.
import { execAttributes, type RegistrationFacts, type RegistrationInput } from "../../core/sdk/index.ts";
import { execConfigSchema } from "./config.ts";
import { isolationAttributes, probeFor } from "./sandbox-host.ts";
import { findRuntime, runtimeAttributes } from "../container/runtime.ts";
import { findSlirp, outboundSetting } from "../container/outbound.ts";

export function execRegistrationFacts(input: RegistrationInput): RegistrationFacts {
  const exec = execConfigSchema.safeParse(input.table ?? {});
  return {
    attributes: {
      ...execAttributes(process.getuid?.() === 0, exec.success && exec.data.allow_raw),
      ...(exec.success ? isolationAttributes(probeFor(exec.data, input.dataDir)) : {}),
      ...(exec.success ? runtimeAttributes(findRuntime(exec.data.container_runtime), process.getuid?.() === 0, {
        allowPrivileged: exec.data.container_allow_privileged, allowCaps: exec.data.container_allow_caps,
        outbound: outboundSetting(exec.data.container_outbound, findSlirp()).path !== undefined,
      }) : {}),
    },
  };
}
