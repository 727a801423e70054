// What an applier returns: JSON-able data for the proposer, or a typed refusal.
export type CommandResult =
  | { ok: true; value?: unknown }
  | { ok: false; code: string; message: string };
