// A thrown error as the API error it answers, for the route table's error
// handler (core/http/app.ts) and the fast paths (core/http/fast-dispatch.ts)
// alike. Kept out of errors.ts, which plugins bundle with their own copy of
// the SDK (test/plugins/bundled-sdk.test.ts): that file must not pull in the
// replicator.
import { ApiError, replicationApiError } from "./errors.ts";
import { ReplicationError } from "../state/replicator.ts";

/**
 * An ApiError as is; a write refused by replication with its status (503/504 and its outcome:
 * a handler that proposes without mapping the refusal, as a heartbeat waking a down node does,
 * must not answer 500); undefined for anything else.
 */
export function knownApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof ReplicationError) return replicationApiError(err);
  return undefined;
}
