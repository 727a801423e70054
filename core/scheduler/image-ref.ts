// Image references as jobs write them: "registry:port/name:tag",
// "registry/name@sha256:<hex>", or Docker Hub's short forms ("busybox",
// "user/app:1"). Pure: no I/O. The grammar is the distribution spec's
// (reference.go), narrowed to what a registry URL can carry.

export interface ImageRef {
  /** host[:port] the API is reached at ("registry-1.docker.io" for Docker Hub). */
  registry: string;
  /** The repository path ("library/busybox", "team/app"). */
  repository: string;
  /** A tag, when the reference names one ("latest" when it names neither tag nor digest). */
  tag?: string;
  /** A content digest "sha256:<64 hex>", when the reference pins one. */
  digest?: string;
}

const DOCKER_HUB = "registry-1.docker.io";
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The reference parsed, or an Error saying what is wrong with it. */
export function parseImageRef(text: string): ImageRef {
  const bad = (why: string) => new Error(`image ${JSON.stringify(text)}: ${why}`);
  if (text.length === 0 || text.length > 512) throw bad("must be 1 to 512 characters");
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("the digest must be sha256:<64 lowercase hex>");
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad("invalid tag");
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  // Docker's rule: the first part is a registry when it has a dot or a port, or is "localhost".
  if (parts.length > 1 && (parts[0]!.includes(".") || parts[0]!.includes(":") || parts[0] === "localhost" || parts[0]!.startsWith("["))) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) throw bad("invalid registry host");
  } else if (parts.length === 1) parts.unshift("library");
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) throw bad("invalid repository name (lowercase letters, digits, . _ - separated by /)");
  const repository = parts.join("/");
  if (registry === "docker.io" || registry === "index.docker.io") registry = DOCKER_HUB;
  return { registry, repository, tag: tag ?? (digest ? undefined : "latest"), digest };
}

/** What to ask the manifests endpoint for: the digest when pinned (it wins over a tag), else the tag. */
export function manifestReference(ref: ImageRef): string {
  return ref.digest ?? ref.tag ?? "latest";
}

export function formatImageRef(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag && !ref.digest ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}
