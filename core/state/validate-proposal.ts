// Checks a command further than its zod schema before it is proposed:
// whatever would fail on every replica is refused here, with its reason,
// instead of entering the log (docs/security.md, "Bad state"). Today that is
// a restored snapshot (trial-restored into a scratch database); the Fsm
// refuses any other deterministic failure at apply time.
import type { Command } from "./commands.ts";
import type { CommandResult } from "./result.ts";
import { checkSnapshot } from "./snapshot-check.ts";

export async function validateProposal(cmd: Command): Promise<Extract<CommandResult, { ok: false }> | undefined> {
  if (cmd.type === "RestoreState") {
    const r = await checkSnapshot(cmd.data);
    if (!r.ok) return { ok: false, code: "INVALID_SNAPSHOT", message: `snapshot refused, nothing was changed: ${r.message}` };
  }
  return undefined;
}
