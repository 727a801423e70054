// The cryptography of variables at rest (docs/variables.md). Pure functions
// over node:crypto; no state, no I/O.
//
// - A data key is 32 random bytes (AES-256-GCM). Each encryption takes a fresh
//   12-byte random nonce; the ciphertext carries GCM's 16-byte tag at its end.
// - The variable's namespace and path are the additional authenticated data:
//   a ciphertext copied onto another path (or namespace) fails to decrypt,
//   so a state.db edit cannot swap one secret into another's place.
// - Data keys travel through the log and sit in state wrapped (AES-256-GCM)
//   by a key-encryption key every leader derives with HKDF-SHA256 from the
//   cluster secret it already holds; the key id is the wrap's AAD, so a
//   wrapped key cannot be passed off under another id.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomUUID } from "node:crypto";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  /** base64 nonce */
  nonce: string;
  /** base64 ciphertext || tag */
  data: string;
}

function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return { nonce: nonce.toString("base64"), data: body.toString("base64") };
}

/** Throws when the key, the AAD or the bytes do not match (GCM's tag check). */
function open(key: Uint8Array, sealed: Sealed, aad: string): Buffer {
  const nonce = Buffer.from(sealed.nonce, "base64");
  const body = Buffer.from(sealed.data, "base64");
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new Error("malformed ciphertext");
  const d = createDecipheriv("aes-256-gcm", key, nonce);
  d.setAAD(Buffer.from(aad, "utf8"));
  d.setAuthTag(body.subarray(body.length - TAG_BYTES));
  return Buffer.concat([d.update(body.subarray(0, body.length - TAG_BYTES)), d.final()]);
}

/** The key-encryption key: HKDF-SHA256 of the cluster secret, for this one purpose. */
export function deriveKek(clusterSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(clusterSecret, "utf8"), Buffer.from("corral-keyring-salt-v1"), Buffer.from("corral variables key-encryption key v1"), 32));
}

const wrapAad = (keyId: string) => `corral-keyring-v1\0${keyId}`;
const varAad = (namespace: string, path: string) => `corral-variable-v1\0${namespace}\0${path}`;

export interface NewKey {
  id: string;
  key: Buffer;
  wrapped: Sealed;
}

/** A fresh data key, wrapped for the log. */
export function newDataKey(kek: Uint8Array): NewKey {
  const id = randomUUID();
  const key = randomBytes(32);
  return { id, key, wrapped: seal(kek, key, wrapAad(id)) };
}

export function unwrapDataKey(kek: Uint8Array, id: string, wrapped: Sealed): Buffer {
  const key = open(kek, wrapped, wrapAad(id));
  if (key.length !== 32) throw new Error(`key ${id}: unwrapped to ${key.length} bytes, not 32`);
  return key;
}

export function encryptItems(key: Uint8Array, namespace: string, path: string, items: Record<string, string>): Sealed {
  return seal(key, Buffer.from(JSON.stringify(items), "utf8"), varAad(namespace, path));
}

export function decryptItems(key: Uint8Array, namespace: string, path: string, sealed: Sealed): Record<string, string> {
  return JSON.parse(open(key, sealed, varAad(namespace, path)).toString("utf8")) as Record<string, string>;
}
