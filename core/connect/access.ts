// How a node reaches the mesh CA (docs/mesh.md): a leader-role node holds it
// (core/connect/ca.ts); an agent asks a leader over signed RPC. Either way a
// leaf's private key is made here, on the node that will use it, and only
// its public key travels.
import type { RootsView, SignedLeaf } from "./ca.ts";
import { newKeyPair } from "./x509.ts";

export interface LeafWithKey extends SignedLeaf {
  PrivateKeyPEM: string;
}

export interface MeshCaAccess {
  roots(): Promise<RootsView>;
  /** A fresh key pair and its leaf for `service`, valid `ttlMs`. */
  leaf(service: string, ttlMs: number): Promise<LeafWithKey>;
}

export interface CaSigner {
  roots(): Promise<RootsView>;
  sign(service: string, publicKeyPem: string, ttlMs: number): Promise<SignedLeaf>;
}

export function meshCaAccess(signer: CaSigner): MeshCaAccess {
  return {
    roots: () => signer.roots(),
    async leaf(service, ttlMs) {
      const keys = newKeyPair();
      const signed = await signer.sign(service, keys.publicKeyPem, ttlMs);
      return { ...signed, PrivateKeyPEM: keys.privateKeyPem };
    },
  };
}

/** An agent's signer: the leaders' CA over signed RPC (core/api/connect-ca.ts, /v1/cluster/connect/*). */
export function remoteSigner(call: <T>(op: "roots" | "sign", body: unknown) => Promise<T>): CaSigner {
  return {
    roots: () => call<RootsView>("roots", {}),
    sign: (service, publicKeyPem, ttlMs) => call<SignedLeaf>("sign", { service, publicKeyPem, ttlMs }),
  };
}
