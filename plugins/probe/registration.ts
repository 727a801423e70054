// The probe plugin's part of the node's registration: the host fingerprint,
// with the `[plugins.probe]` overrides applied even while the plugin is off.
import type { RegistrationFacts, RegistrationInput } from "../../core/sdk/index.ts";
import { probeConfigSchema } from "./config.ts";
import { fingerprint, type Detectors } from "./fingerprint.ts";

export async function probeRegistrationFacts(input: RegistrationInput, detectors?: Partial<Detectors>): Promise<RegistrationFacts> {
  const parsed = probeConfigSchema.safeParse(input.table ?? {});
  const { interval: _interval, ...overrides } = parsed.success ? parsed.data : { interval: 0 };
  const fp = await fingerprint({ dataDir: input.dataDir, overrides, detectors });
  for (const w of fp.warnings) input.log.warn("fingerprint: " + w);
  return { attributes: fp.attributes, resources: fp.resources, reserved: fp.reserved };
}
