// The leader's side of the variables keyring (docs/variables.md): which data
// key encrypts now, unwrapping keys read from state, making the first key
// and rotating. Keys live in replicated state only wrapped by the key every
// leader derives from the cluster secret (crypto.ts); unwrapped keys stay in
// this process's memory and are never served by any API.
import type { Command } from "../state/commands.ts";
import type { ProposeOutcome } from "../state/replicator.ts";
import type { Db } from "../store/db.ts";
import { ApiError } from "../http/errors.ts";
import { listKeys, type KeyRow } from "../state/domains/variables.ts";
import { deriveKek, newDataKey, unwrapDataKey } from "./crypto.ts";

export interface KeyMeta {
  KeyID: string;
  Active: boolean;
  CreateIndex: number;
  CreateTime: number;
}

export class Keyring {
  private readonly kek: Buffer;
  private readonly unwrapped = new Map<string, Buffer>();

  constructor(
    private readonly db: Db,
    clusterSecret: string,
    private readonly propose: (cmd: Command) => Promise<ProposeOutcome>,
  ) {
    this.kek = deriveKek(clusterSecret);
  }

  /** A data key by id, unwrapped from state (once per process). */
  key(id: string): Buffer {
    const cached = this.unwrapped.get(id);
    if (cached) return cached;
    const row = listKeys(this.db).find((k) => k.id === id);
    if (!row) throw new ApiError(500, "KEY_MISSING", `keyring key ${id} is not in this node's state`);
    let key: Buffer;
    try {
      key = unwrapDataKey(this.kek, id, { nonce: row.nonce, data: row.wrapped });
    } catch {
      // Another cluster secret wrapped it (the secret changed, or a snapshot came from elsewhere).
      throw new ApiError(500, "KEY_UNWRAP_FAILED", `keyring key ${id} does not unwrap with this node's cluster secret`);
    }
    this.unwrapped.set(id, key);
    return key;
  }

  /** The active key, made (through the log) when the keyring is still empty. */
  async active(): Promise<{ id: string; key: Buffer }> {
    const row = this.activeRow();
    if (row) return { id: row.id, key: this.key(row.id) };
    const fresh = newDataKey(this.kek);
    const out = await this.propose({ type: "VarKeyAdd", v: 1, at: Date.now(), id: fresh.id, wrapped: fresh.wrapped.data, nonce: fresh.wrapped.nonce, ifNone: true });
    if (out.result.ok && (out.result.value as { added?: boolean } | undefined)?.added) {
      this.unwrapped.set(fresh.id, fresh.key);
      return { id: fresh.id, key: fresh.key };
    }
    // Someone else's first key won the race; it is in state once applied here.
    const again = this.activeRow();
    if (!again) throw new ApiError(503, "NO_LEADER", "the keyring's first key is not applied on this node yet; retry");
    return { id: again.id, key: this.key(again.id) };
  }

  /** A new active key; older keys stay and still decrypt what they encrypted. */
  async rotate(): Promise<{ id: string; key: Buffer; index: number }> {
    const fresh = newDataKey(this.kek);
    const out = await this.propose({ type: "VarKeyAdd", v: 1, at: Date.now(), id: fresh.id, wrapped: fresh.wrapped.data, nonce: fresh.wrapped.nonce, ifNone: false });
    if (!out.result.ok) throw new ApiError(500, out.result.code, out.result.message);
    this.unwrapped.set(fresh.id, fresh.key);
    return { id: fresh.id, key: fresh.key, index: out.index };
  }

  /** Ids and dates only: key material, wrapped or not, never leaves through the API. */
  list(): KeyMeta[] {
    return listKeys(this.db).map((k) => ({ KeyID: k.id, Active: k.active === 1, CreateIndex: k.createIndex, CreateTime: k.createTime }));
  }

  private activeRow(): KeyRow | undefined {
    return listKeys(this.db).find((k) => k.active === 1);
  }
}
