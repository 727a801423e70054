import type { FeasibilityCheck } from "./types.ts";

/** Only ready nodes take new work: down nodes are gone, draining ones are being emptied. */
export const nodeReady: FeasibilityCheck = (node) => {
  const status = node.view.status;
  if (status === "ready") return true;
  return status === "down" ? "node down" : status === "draining" ? "node draining" : `node ${status}`;
};
