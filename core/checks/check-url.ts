// What an HTTP check may fetch: an http:// or https:// URL, nothing else.
// The prober is the node itself (root, holding the data dir), and Bun's
// fetch also reads file:, data:, blob: and s3: URLs: a check on
// file:///<data_dir>/cluster-secret would put the secret in the check's
// Output for any reader. Checked at registration (a 400) and again by the
// prober for every URL it fetches, redirects included (core/checks/probes.ts).
// Pure.

const ALLOWED = new Set(["http:", "https:"]);

/** Why `url` may not be probed, or undefined when it may. */
export function httpCheckUrlError(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `HTTP check URL ${JSON.stringify(url.slice(0, 200))} is not a valid URL`;
  }
  if (!ALLOWED.has(parsed.protocol)) return `HTTP check URL scheme "${parsed.protocol.slice(0, 40)}" is not allowed: only http:// and https://`;
  if (!parsed.hostname) return "HTTP check URL has no host";
  return undefined;
}
