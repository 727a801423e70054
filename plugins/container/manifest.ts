// Image manifests, indexes and configs as registries serve them, parsed
// with zod: Docker's v2 schema 2 and the OCI image spec, which share one
// shape under different media types. Pure: no I/O.
import { z } from "zod";
import { DIGEST } from "../../core/sdk/index.ts";

export const MEDIA = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
} as const;

/** The Accept header of a manifest request: every kind we can read. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(", ");

/** Layer media types we unpack; `gzip` says whether the blob is compressed. */
const LAYER_TYPES: Record<string, { gzip: boolean }> = {
  "application/vnd.docker.image.rootfs.diff.tar.gzip": { gzip: true },
  "application/vnd.oci.image.layer.v1.tar+gzip": { gzip: true },
  "application/vnd.oci.image.layer.v1.tar": { gzip: false },
  // Non-distributable ("foreign") layers are refused: they are fetched from elsewhere than the registry.
};

const Digest = z.string().regex(DIGEST, "a sha256:<64 hex> digest");
const Descriptor = z.object({
  mediaType: z.string().max(256),
  digest: Digest,
  size: z.number().int().min(0).max(2 ** 53 - 1),
  urls: z.array(z.string()).optional(),
  platform: z.object({ architecture: z.string(), os: z.string(), variant: z.string().optional() }).optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

const ImageManifest = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: Descriptor,
  layers: z.array(Descriptor).max(256),
});
const ImageIndex = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(Descriptor).max(1024),
});

export interface Layer {
  digest: string;
  size: number;
  gzip: boolean;
}

export type ParsedManifest =
  | { kind: "manifest"; config: Descriptor; layers: Layer[] }
  | { kind: "index"; manifests: Descriptor[] };

/**
 * A manifest body by its Content-Type (or its own mediaType field when the
 * header is generic). Throws an Error naming what is not understood.
 */
export function parseManifest(body: string, contentType: string | null): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error("the manifest is not JSON");
  }
  const declared = (json as { mediaType?: unknown })?.mediaType;
  const type = (contentType?.split(";")[0]?.trim() || (typeof declared === "string" ? declared : "")) as string;
  if (type === MEDIA.ociIndex || type === MEDIA.dockerList || (type !== MEDIA.ociManifest && type !== MEDIA.dockerManifest && (json as { manifests?: unknown })?.manifests)) {
    const idx = ImageIndex.safeParse(json);
    if (!idx.success) throw new Error(`malformed image index: ${idx.error.issues[0]?.message}`);
    return { kind: "index", manifests: idx.data.manifests };
  }
  if (type === MEDIA.ociManifest || type === MEDIA.dockerManifest || (json as { layers?: unknown })?.layers) {
    const m = ImageManifest.safeParse(json);
    if (!m.success) throw new Error(`malformed image manifest: ${m.error.issues[0]?.message}`);
    const layers = m.data.layers.map((l) => {
      const t = LAYER_TYPES[l.mediaType];
      if (!t) throw new Error(`layer ${l.digest}: media type ${l.mediaType} is not supported`);
      return { digest: l.digest, size: l.size, gzip: t.gzip };
    });
    return { kind: "manifest", config: m.data.config, layers };
  }
  throw new Error(`manifest media type ${JSON.stringify(type)} is not supported (schema 1 images are not)`);
}

/** The entry of an index for `os`/`arch` (linux/amd64 on this node), or an Error listing what there is. */
export function pickPlatform(manifests: readonly Descriptor[], os = "linux", arch = "amd64"): Descriptor {
  const found = manifests.find((m) => m.platform?.os === os && m.platform?.architecture === arch && (m.mediaType === MEDIA.ociManifest || m.mediaType === MEDIA.dockerManifest));
  if (found) return found;
  const have = manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : "?")).join(", ");
  throw new Error(`the image has no ${os}/${arch} variant (it has: ${have || "none"})`);
}

const ImageConfig = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z
    .object({
      User: z.string().max(256).optional(),
      Env: z.array(z.string().max(32 * 1024)).max(1024).nullish(),
      Entrypoint: z.array(z.string()).max(1024).nullish(),
      Cmd: z.array(z.string()).max(1024).nullish(),
      WorkingDir: z.string().max(4096).optional(),
      StopSignal: z.string().max(32).optional(),
      ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
    })
    .passthrough()
    .nullish(),
  rootfs: z.object({ type: z.string(), diff_ids: z.array(Digest) }).optional(),
});

/** What of an image's config the driver uses. */
export interface ImageRunConfig {
  user: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  stopSignal: string;
  /** The sha256 of each layer's uncompressed tar, in order (unpack.ts checks them). */
  diffIds: string[];
  os: string;
  architecture: string;
}

export function parseImageConfig(body: string): ImageRunConfig {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error("the image config is not JSON");
  }
  const c = ImageConfig.safeParse(json);
  if (!c.success) throw new Error(`malformed image config: ${c.error.issues[0]?.path.join(".")}: ${c.error.issues[0]?.message}`);
  const cfg = c.data.config ?? {};
  return {
    user: cfg.User ?? "",
    env: cfg.Env ?? [],
    entrypoint: cfg.Entrypoint ?? [],
    cmd: cfg.Cmd ?? [],
    workingDir: cfg.WorkingDir || "/",
    stopSignal: cfg.StopSignal || "SIGTERM",
    diffIds: c.data.rootfs?.diff_ids ?? [],
    os: c.data.os ?? "linux",
    architecture: c.data.architecture ?? "amd64",
  };
}
