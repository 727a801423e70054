// While cluster.legacy_signatures is "accept" or "send", this node accepts
// the previous release's v1 RPC signatures, which carry no nonce: a request
// captured on the wire can be replayed within ±30 s. An operator must not
// forget to finish the upgrade, so the node says so at start and once a
// minute until the mode is "off" (docs/operations.md "Upgrading").
import type { Logger } from "../log.ts";
import { acceptsV1, type LegacySignatures } from "../http/rpc-signature.ts";

export const LEGACY_WARNING = "legacy v1 signatures accepted: replay protection is off until cluster.legacy_signatures = off";
export const LEGACY_WARNING_EVERY_MS = 60_000;

/** Logs the warning now and every minute; the returned function stops it. A no-op for "off". */
export function startLegacySignatureWarning(mode: LegacySignatures, log: Logger, everyMs = LEGACY_WARNING_EVERY_MS): () => void {
  if (!acceptsV1(mode)) return () => undefined;
  const warn = () => log.warn(LEGACY_WARNING, { legacySignatures: mode, signs: mode === "send" ? "v1" : "v2" });
  warn();
  const timer = setInterval(warn, everyMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
