// The certificates of the service mesh's CA (docs/mesh.md): ECDSA P-256
// roots, cross-signed roots and leaf certificates with a SPIFFE URI SAN.
// Pure apart from randomness and WebCrypto: no state, no I/O. Node's crypto
// can parse certificates but not make them, so they are built with pkijs +
// asn1js over WebCrypto (works under Bun, Node and Deno).
import { createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

const subtle = globalThis.crypto.subtle;
const engine = new pkijs.CryptoEngine({ name: "corral", crypto: globalThis.crypto });
const EC = { name: "ECDSA", namedCurve: "P-256" } as const;

const OID = {
  commonName: "2.5.4.3",
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** Key usage bits (RFC 5280 §4.2.1.3), as the first byte of the BIT STRING. */
const KU = { digitalSignature: 0x80, keyEncipherment: 0x20, keyAgreement: 0x08, keyCertSign: 0x04, cRLSign: 0x02 } as const;

export interface KeyPairPem {
  /** PKCS#8 PEM */
  privateKeyPem: string;
  /** SPKI PEM */
  publicKeyPem: string;
}

/** A fresh ECDSA P-256 key pair (a root's, or a leaf's made where it will be used). */
export function newKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  const buf = Buffer.from(b64, "base64");
  const out = new Uint8Array(new ArrayBuffer(buf.length));
  out.set(buf);
  return out;
}

export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

/** Every PEM certificate block of a bundle, in order. */
export function splitPemCerts(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((p) => (p.endsWith("\n") ? p : `${p}\n`)) ?? [];
}

async function importPrivate(pem: string): Promise<CryptoKey> {
  return subtle.importKey("pkcs8", pemBody(pem), EC, false, ["sign"]);
}

async function importPublic(pem: string): Promise<CryptoKey> {
  return subtle.importKey("spki", pemBody(pem), EC, true, ["verify"]);
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1), hex with colons as Consul prints key ids. */
async function keyIdOf(spki: pkijs.PublicKeyInfo): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest("SHA-1", spki.subjectPublicKey.valueBlock.valueHexView));
}

export function colonHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

function name(cn: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({ typesAndValues: [new pkijs.AttributeTypeAndValue({ type: OID.commonName, value: new asn1js.Utf8String({ value: cn }) })] });
}

function ext(extnID: string, critical: boolean, value: { toSchema(): asn1js.BaseBlock } | asn1js.BaseBlock): pkijs.Extension {
  const schema = "toSchema" in value ? value.toSchema() : value;
  return new pkijs.Extension({ extnID, critical, extnValue: schema.toBER(false) });
}

function serial(): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(new ArrayBuffer(16));
  b.set(randomBytes(16));
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, and no leading zero byte to trim
  return b;
}

/** A certificate's subject name as encoded (an issuer's name must match it byte for byte for chains to build). */
function subjectOf(pem: string): pkijs.RelativeDistinguishedNames {
  return pkijs.Certificate.fromBER(pemBody(pem)).subject;
}

/** The subject key id a CA certificate states (its leaves' authority key id must repeat it), if any. */
function statedKeyId(pem: string): Uint8Array | undefined {
  const ext = pkijs.Certificate.fromBER(pemBody(pem)).extensions?.find((e) => e.extnID === OID.subjectKeyId);
  const v = ext?.parsedValue as asn1js.OctetString | undefined;
  return v ? new Uint8Array(v.valueBlock.valueHexView) : undefined;
}

interface Issue {
  /** The issuer certificate's own subject key id, when it states one (an external CA's may be computed another way). */
  issuerKeyId?: Uint8Array;
  /** The subject's stated key id (a cross-signed copy of a root repeats the root's). */
  subjectKeyId?: Uint8Array;
  subjectCn: string | pkijs.RelativeDistinguishedNames;
  subjectPublicKeyPem: string;
  issuerCn: string | pkijs.RelativeDistinguishedNames;
  /** The issuer's public key (for the authority key id); the subject's own when self-signed. */
  issuerPublicKeyPem: string;
  issuerPrivateKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  uri: string;
}

async function issue(o: Issue): Promise<{ pem: string; serial: string; subjectKeyId: string }> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const sn = serial();
  cert.serialNumber = new asn1js.Integer({ valueHex: sn });
  cert.subject = typeof o.subjectCn === "string" ? name(o.subjectCn) : o.subjectCn;
  cert.issuer = typeof o.issuerCn === "string" ? name(o.issuerCn) : o.issuerCn;
  cert.notBefore.value = o.notBefore;
  cert.notAfter.value = o.notAfter;
  await cert.subjectPublicKeyInfo.importKey(await importPublic(o.subjectPublicKeyPem), engine);
  const issuerSpki = new pkijs.PublicKeyInfo();
  await issuerSpki.importKey(await importPublic(o.issuerPublicKeyPem), engine);
  const ski = o.subjectKeyId ?? (await keyIdOf(cert.subjectPublicKeyInfo));
  const aki = o.issuerKeyId ?? (await keyIdOf(issuerSpki));
  const usage = o.ca ? KU.digitalSignature | KU.keyCertSign | KU.cRLSign : KU.digitalSignature | KU.keyEncipherment | KU.keyAgreement;
  cert.extensions = [
    ext(OID.basicConstraints, true, new pkijs.BasicConstraints(o.ca ? { cA: true } : { cA: false })),
    ext(OID.keyUsage, true, new asn1js.BitString({ valueHex: new Uint8Array([usage]).buffer, unusedBits: 1 })),
    ext(OID.subjectKeyId, false, new asn1js.OctetString({ valueHex: ski.slice().buffer })),
    ext(OID.authorityKeyId, false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: aki.slice().buffer }) })),
    ext(OID.subjectAltName, false, new pkijs.GeneralNames({ names: [new pkijs.GeneralName({ type: 6, value: o.uri })] })),
  ];
  if (!o.ca) cert.extensions.push(ext(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [OID.serverAuth, OID.clientAuth] })));
  await cert.sign(await importPrivate(o.issuerPrivateKeyPem), "SHA-256", engine);
  return { pem: toPem("CERTIFICATE", cert.toSchema(true).toBER(false)), serial: colonHex(sn), subjectKeyId: colonHex(ski) };
}

export interface RootCert {
  pem: string;
  serial: string;
  /** Colon hex SHA-1 of the public key: Consul's root ID and SigningKeyID. */
  keyId: string;
}

/** A self-signed root: CN "corral mesh root <n>", URI SAN spiffe://<trust domain>. */
export async function selfSignedRoot(o: { keys: KeyPairPem; trustDomain: string; cn: string; notBefore: Date; notAfter: Date }): Promise<RootCert> {
  const c = await issue({
    subjectCn: o.cn, subjectPublicKeyPem: o.keys.publicKeyPem, issuerCn: o.cn, issuerPublicKeyPem: o.keys.publicKeyPem,
    issuerPrivateKeyPem: o.keys.privateKeyPem, notBefore: o.notBefore, notAfter: o.notAfter, ca: true, uri: `spiffe://${o.trustDomain}`,
  });
  return { pem: c.pem, serial: c.serial, keyId: c.subjectKeyId };
}

/**
 * The new root's subject and key, issued by the old root: a peer that still
 * trusts only the old root accepts a new leaf through it (leaf → cross-signed
 * new root → old root), and the old root's leaves stay valid until they expire.
 */
export async function crossSign(o: { newRootPem: string; newPublicKeyPem: string; oldRootPem: string; oldKeys: KeyPairPem; trustDomain: string; notAfter: Date; notBefore: Date }): Promise<string> {
  const subjectCn = subjectOf(o.newRootPem);
  const issuerCn = subjectOf(o.oldRootPem);
  const c = await issue({
    issuerKeyId: statedKeyId(o.oldRootPem),
    subjectKeyId: statedKeyId(o.newRootPem),
    subjectCn, subjectPublicKeyPem: o.newPublicKeyPem, issuerCn, issuerPublicKeyPem: o.oldKeys.publicKeyPem,
    issuerPrivateKeyPem: o.oldKeys.privateKeyPem, notBefore: o.notBefore, notAfter: o.notAfter, ca: true, uri: `spiffe://${o.trustDomain}`,
  });
  return c.pem;
}

export interface LeafCert {
  pem: string;
  serial: string;
}

/** A leaf for one service: its public key signed by the active root, URI SAN = the service's SPIFFE ID. */
export async function signLeaf(o: { rootPem: string; rootKeys: KeyPairPem; publicKeyPem: string; service: string; spiffeId: string; notBefore: Date; notAfter: Date }): Promise<LeafCert> {
  const issuerCn = subjectOf(o.rootPem);
  const c = await issue({
    issuerKeyId: statedKeyId(o.rootPem),
    subjectCn: o.service, subjectPublicKeyPem: o.publicKeyPem, issuerCn, issuerPublicKeyPem: o.rootKeys.publicKeyPem,
    issuerPrivateKeyPem: o.rootKeys.privateKeyPem, notBefore: o.notBefore, notAfter: o.notAfter, ca: false, uri: o.spiffeId,
  });
  return { pem: c.pem, serial: c.serial };
}

/** The public key (SPKI PEM) of a PKCS#8 private key PEM; throws on anything that is not an EC P-256 key. */
export function publicKeyOf(privateKeyPem: string): string {
  const pub = createPublicKey(privateKeyPem);
  if (pub.asymmetricKeyType !== "ec" || pub.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error("the CA key must be an ECDSA P-256 key");
  return pub.export({ type: "spki", format: "pem" }).toString();
}

/** A public key PEM (SPKI) a caller sent: parsed and checked to be P-256, re-exported canonically. */
export function checkedPublicKey(pem: string): string {
  const pub = createPublicKey(pem);
  if (pub.type !== "public" || pub.asymmetricKeyType !== "ec" || pub.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error("expected an ECDSA P-256 public key (SPKI PEM)");
  return pub.export({ type: "spki", format: "pem" }).toString();
}
