// The service mesh's built-in CA, on leader-role nodes (docs/mesh.md).
//
// Its state (roots with their private keys, the trust domain) is one
// variable in a namespace the variables API cannot name ("corral:connect":
// the API takes letters, digits, - and _ only), so it is encrypted by the
// variables keyring before it is proposed and travels through the Raft log,
// snapshots and every replica as ciphertext only — the same protection as a
// variable, with no command or table of its own. Every leader-role node can
// decrypt it (the keyring's key derives from the cluster secret) and sign.
//
// Writes use check-and-set on the variable's ModifyIndex: two leaders
// making the first root, or two rotations at once, cannot both win.
import { randomUUID } from "node:crypto";
import { X509Certificate } from "node:crypto";
import type { Db } from "../store/db.ts";
import type { Command } from "../state/commands.ts";
import type { ProposeOutcome } from "../state/replicator.ts";
import { getVariable, type VarWriteResult } from "../state/domains/variables.ts";
import { ApiError } from "../http/errors.ts";
import { decryptItems, encryptItems } from "../variables/crypto.ts";
import type { Keyring } from "../variables/keyring.ts";
import { crossSign, newKeyPair, publicKeyOf, selfSignedRoot, signLeaf, splitPemCerts, type KeyPairPem } from "./x509.ts";
import { spiffeServiceId } from "./spiffe.ts";

export const CA_NAMESPACE = "corral:connect";
const CA_PATH = "ca";

/** How long a root is valid (Consul: 10 years). */
const ROOT_TTL_MS = 10 * 365 * 24 * 3600_000;
/** Certificates start a minute in the past: a peer's clock a little behind still accepts them. */
const BACKDATE_MS = 60_000;
/** The longest leaf TTL anyone may ask for; rotated-out roots are kept (trusted) this long. */
export const MAX_LEAF_TTL_MS = 30 * 24 * 3600_000;
export const DEFAULT_LEAF_TTL_MS = 72 * 3600_000;

export interface CaRoot {
  /** Colon hex SHA-1 of the public key (Consul's root ID). */
  id: string;
  name: string;
  serial: string;
  certPem: string;
  privateKeyPem: string;
  publicKeyPem: string;
  /** The root's certificate issued by the root it replaced (rotation); leaves of this root carry it as an intermediate. */
  crossSignedPem?: string;
  active: boolean;
  external: boolean;
  notBefore: number;
  notAfter: number;
  /** When a rotation made it inactive: it stays trusted until every leaf it signed has expired. */
  rotatedOutAt?: number;
}

export interface CaState {
  clusterId: string;
  trustDomain: string;
  roots: CaRoot[];
}

export interface RootsView {
  ActiveRootID: string;
  TrustDomain: string;
  Roots: {
    ID: string; Name: string; SerialNumber: string; SigningKeyID: string; ExternalTrustDomain: string;
    NotBefore: string; NotAfter: string; RootCert: string; IntermediateCerts: string[]; Active: boolean;
    PrivateKeyType: "ec"; PrivateKeyBits: 256; CreateIndex: number; ModifyIndex: number;
  }[];
  Index: number;
}

export interface SignedLeaf {
  SerialNumber: string;
  /** The leaf, then the intermediates a peer needs (the cross-signed root after a rotation). */
  CertPEM: string;
  Service: string;
  ServiceURI: string;
  ValidAfter: string;
  ValidBefore: string;
  CreateIndex: number;
  ModifyIndex: number;
}

/** An operator's own CA: its certificate and ECDSA P-256 key, read from files by the node. */
export interface ExternalCa {
  certPem: string;
  keyPem: string;
}

export class ConnectCa {
  private cache?: { index: number; state: CaState };
  private external?: CaRoot;

  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly propose: (cmd: Command) => Promise<ProposeOutcome>,
    private readonly opts: { external?: ExternalCa; now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The state as this replica holds it, decrypted (once per ModifyIndex); undefined before the first root. */
  load(): { index: number; state: CaState } | undefined {
    const row = getVariable(this.db, CA_NAMESPACE, CA_PATH);
    if (!row) return undefined;
    if (this.cache?.index === row.modifyIndex) return this.cache;
    let items: Record<string, string>;
    try {
      items = decryptItems(this.keyring.key(row.keyId), CA_NAMESPACE, CA_PATH, { nonce: row.nonce, data: row.data });
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(500, "CA_DECRYPT_FAILED", "the mesh CA's state does not decrypt (altered, or another cluster secret)");
    }
    this.cache = { index: row.modifyIndex, state: JSON.parse(items.state!) as CaState };
    return this.cache;
  }

  /** The state, the first root made (through the log) when there is none yet. */
  async ensure(): Promise<{ index: number; state: CaState }> {
    const have = this.load();
    if (have && this.opts.external && have.state.roots.find((r) => r.active)?.id !== this.externalRoot().id) return this.replaceRoot(have);
    if (have) return have;
    const clusterId = randomUUID();
    const trustDomain = `${clusterId}.corral`;
    const root = await this.newRoot(trustDomain, 1);
    await this.write({ clusterId, trustDomain, roots: [root] }, 0);
    const now = this.load();
    if (!now) throw new ApiError(503, "NO_LEADER", "the mesh CA's first root is not applied on this node yet; retry");
    return now;
  }

  /**
   * A new active root, cross-signed by the one it replaces. The old root
   * stays in the trusted set until the longest leaf it may have signed has
   * expired, so nothing it signed stops working before its time.
   */
  async rotate(): Promise<{ index: number; state: CaState }> {
    if (this.opts.external) throw new ApiError(400, "EXTERNAL_CA", "the mesh CA is an external one ([connect] ca_cert_file): rotate it by replacing its files and restarting the leaders");
    return this.replaceRoot(await this.ensure());
  }

  /** The active root replaced by a new one (built-in, or the configured external CA), cross-signed by the old one. */
  private async replaceRoot({ index, state }: { index: number; state: CaState }): Promise<{ index: number; state: CaState }> {
    const old = state.roots.find((r) => r.active)!;
    const root = await this.newRoot(state.trustDomain, state.roots.length + 1);
    const now = this.now();
    root.crossSignedPem = await crossSign({
      newRootPem: root.certPem, newPublicKeyPem: root.publicKeyPem, oldRootPem: old.certPem,
      oldKeys: { privateKeyPem: old.privateKeyPem, publicKeyPem: old.publicKeyPem }, trustDomain: state.trustDomain,
      notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(Math.min(old.notAfter, root.notAfter)),
    });
    const kept = state.roots
      .map((r) => (r.active ? { ...r, active: false, rotatedOutAt: now } : r))
      .filter((r) => r.rotatedOutAt === undefined || r.rotatedOutAt + MAX_LEAF_TTL_MS > now);
    await this.write({ ...state, roots: [...kept, root] }, index);
    return this.load()!;
  }

  /** A leaf for `service` over the caller's public key (the private key never leaves the node that made it). */
  async sign(service: string, publicKeyPem: string, ttlMs: number): Promise<SignedLeaf> {
    const { index, state } = await this.ensure();
    const root = state.roots.find((r) => r.active)!;
    const now = this.now();
    const notAfter = Math.min(now + ttlMs, root.notAfter);
    const uri = spiffeServiceId(state.trustDomain, "default", service);
    const leaf = await signLeaf({
      rootPem: root.certPem, rootKeys: keysOf(root), publicKeyPem, service, spiffeId: uri,
      notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(notAfter),
    });
    return {
      SerialNumber: leaf.serial,
      CertPEM: leaf.pem + (root.crossSignedPem ?? ""),
      Service: service,
      ServiceURI: uri,
      ValidAfter: new Date(now - BACKDATE_MS).toISOString(),
      ValidBefore: new Date(notAfter).toISOString(),
      CreateIndex: index,
      ModifyIndex: index,
    };
  }

  async roots(): Promise<RootsView> {
    const { index, state } = await this.ensure();
    return rootsView(state, index);
  }

  private async newRoot(trustDomain: string, n: number): Promise<CaRoot> {
    const now = this.now();
    if (this.opts.external) return this.externalRoot();
    const keys = newKeyPair();
    const notBefore = now - BACKDATE_MS;
    const notAfter = now + ROOT_TTL_MS;
    const name = `corral mesh root ${n}`;
    const cert = await selfSignedRoot({ keys, trustDomain, cn: name, notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
    return { id: cert.keyId, name, serial: cert.serial, certPem: cert.pem, ...keys, active: true, external: false, notBefore, notAfter };
  }

  private externalRoot(): CaRoot {
    this.external ??= externalRoot(this.opts.external!);
    return { ...this.external };
  }

  private async write(state: CaState, cas: number): Promise<void> {
    const key = await this.keyring.active();
    const sealed = encryptItems(key.key, CA_NAMESPACE, CA_PATH, { state: JSON.stringify(state) });
    const out = await this.propose({ type: "VarPut", v: 1, at: this.now(), namespace: CA_NAMESPACE, path: CA_PATH, keyId: key.id, nonce: sealed.nonce, data: sealed.data, cas });
    if (!out.result.ok) throw new ApiError(500, out.result.code, out.result.message);
    // Lost a race (another leader made the first root, or rotated): the winner's state stands, read it back.
    if (!(out.result.value as VarWriteResult).written) this.cache = undefined;
  }
}

function keysOf(r: CaRoot): KeyPairPem {
  return { privateKeyPem: r.privateKeyPem, publicKeyPem: r.publicKeyPem };
}

function externalRoot(ext: ExternalCa): CaRoot {
  const [certPem] = splitPemCerts(ext.certPem);
  if (!certPem) throw new ApiError(500, "EXTERNAL_CA", "the external CA certificate file holds no PEM certificate");
  const x = new X509Certificate(certPem);
  if (!x.ca) throw new ApiError(500, "EXTERNAL_CA", "the external CA certificate is not a CA certificate (basicConstraints CA:TRUE)");
  const publicKeyPem = publicKeyOf(ext.keyPem);
  if (x.publicKey.export({ type: "spki", format: "pem" }).toString() !== publicKeyPem) throw new ApiError(500, "EXTERNAL_CA", "the external CA key does not match its certificate");
  return {
    id: x.fingerprint, name: x.subject.replace(/\n/g, ","), serial: x.serialNumber, certPem, privateKeyPem: ext.keyPem, publicKeyPem,
    active: true, external: true, notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo),
  };
}

/** Consul's /v1/connect/ca/roots answer (never a private key). */
export function rootsView(state: CaState, index: number): RootsView {
  const active = state.roots.find((r) => r.active);
  return {
    ActiveRootID: active?.id ?? "",
    TrustDomain: state.trustDomain,
    Roots: state.roots.map((r) => ({
      ID: r.id, Name: r.name, SerialNumber: r.serial, SigningKeyID: r.id, ExternalTrustDomain: r.external ? "" : state.trustDomain,
      NotBefore: new Date(r.notBefore).toISOString(), NotAfter: new Date(r.notAfter).toISOString(), RootCert: r.certPem,
      IntermediateCerts: r.crossSignedPem ? [r.crossSignedPem] : [], Active: r.active, PrivateKeyType: "ec", PrivateKeyBits: 256,
      CreateIndex: index, ModifyIndex: index,
    })),
    Index: index,
  };
}
