// `[connect] ca_cert_file` / `ca_key_file`: an operator's own CA for the mesh
// (docs/mesh.md), read once at start by leader-role nodes. The key must be an
// ECDSA P-256 key matching the certificate; a key file others may read is
// refused (it would sign any service's identity).
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import type { ConnectConfig } from "../config/types.ts";
import { othersMayRead } from "../config/file-access.ts";
import type { ExternalCa } from "./ca.ts";
import { publicKeyOf, splitPemCerts } from "./x509.ts";

export function loadExternalCa(c: ConnectConfig): ExternalCa | undefined {
  if (!c.caCertFile) return undefined;
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`[connect] ${what} ${file}: ${(err as Error).message}`);
    }
  };
  const certPem = read(c.caCertFile, "ca_cert_file");
  const keyPem = read(c.caKeyFile, "ca_key_file");
  if (othersMayRead(c.caKeyFile)) throw new Error(`[connect] ca_key_file ${c.caKeyFile}: other users may read it; chmod 600 it`);
  const [first] = splitPemCerts(certPem);
  if (!first) throw new Error(`[connect] ca_cert_file ${c.caCertFile} holds no PEM certificate`);
  const x = new X509Certificate(first);
  if (!x.ca) throw new Error(`[connect] ca_cert_file ${c.caCertFile} is not a CA certificate (basicConstraints CA:TRUE)`);
  let pub: string;
  try {
    pub = publicKeyOf(keyPem);
  } catch (err) {
    throw new Error(`[connect] ca_key_file ${c.caKeyFile}: ${(err as Error).message}`);
  }
  if (x.publicKey.export({ type: "spki", format: "pem" }).toString() !== pub) throw new Error(`[connect] ca_key_file ${c.caKeyFile} is not the key of ca_cert_file ${c.caCertFile}`);
  return { certPem: first, keyPem };
}
