// What a peer's 401 to our signed RPC means, in words an operator can act
// on. Pure: the caller logs. The previous release answers every signature
// failure with code UNAUTHORIZED; this release names the reason
// (core/http/rpc-signature.ts), SIGNATURE_LEGACY when it got a v1 header it
// does not accept. A format mismatch during a rolling upgrade must not read
// as "cluster.secret differs": the secret is the same, the format is not.
import type { LegacySignatures } from "./rpc-signature.ts";

/** `who`: the refusing side as the log line names it ("raft peer", "leader"). */
export function explainSignatureRefusal(code: string | undefined, ourMode: LegacySignatures | undefined, who = "peer"): string {
  switch (code) {
    case "SIGNATURE_STALE":
      return `${who} refused our signature: clocks differ (check NTP)`;
    case "SIGNATURE_INVALID":
      return `${who} refused our signature: wrong cluster.secret (the MAC does not match)`;
    case "SIGNATURE_LEGACY":
      return `${who} refused our signature: we sign in the previous release's v1 format (cluster.legacy_signatures = "send") and it accepts only v2; the format differs, not the secret: set its cluster.legacy_signatures to "accept" (or ours to "accept" once every node runs this release)`;
    case "UNAUTHORIZED":
    case "SIGNATURE_MISSING":
    case "SIGNATURE_MALFORMED":
      if (ourMode !== "send") {
        return `${who} refused our signature: it seems to run the previous release, which accepts only v1 signatures (the format differs, not necessarily the secret); while such nodes remain, set cluster.legacy_signatures = "send" on upgraded nodes (docs/operations.md "Upgrading")`;
      }
      return `${who} refused our signature: wrong cluster.secret (or it does not understand the v1 signatures we send)`;
    default:
      return `${who} refused our signature (${code ?? "no code"})`;
  }
}
