// The WWW-Authenticate challenge of a registry's 401 (RFC 7235), parsed
// into its scheme and parameters; and the token endpoint URL a Bearer
// challenge names (the distribution spec's token auth). Pure: no I/O.

export interface Challenge {
  scheme: string; // lowercased: "bearer", "basic"
  params: Record<string, string>;
}

/**
 * The challenges of one header value. Parameters are token=token or
 * token="quoted string" (backslash escapes), comma-separated; a new scheme
 * starts at a bare token followed by a space.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === ",")) i++;
  };
  const token = () => {
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(s.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  while (true) {
    skipWs();
    const scheme = token();
    if (!scheme) break;
    const c: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(c);
    while (true) {
      skipWs();
      const save = i;
      const name = token();
      if (!name) break;
      while (s[i] === " ") i++;
      if (s[i] !== "=") {
        i = save; // a new scheme
        break;
      }
      i++;
      while (s[i] === " ") i++;
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else value = token() ?? "";
      c.params[name.toLowerCase()] = value;
    }
  }
  return out;
}

/**
 * The token endpoint to ask for a Bearer challenge: realm with service and
 * scope as query parameters. `scope` is what this pull needs (pull on the
 * repository), so a challenge cannot widen it. Only http(s) realms.
 */
export function tokenUrl(c: Challenge, scope: string): URL {
  const realm = c.params.realm;
  if (!realm) throw new Error("the registry's Bearer challenge names no realm");
  const url = new URL(realm);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`token realm ${realm}: http(s) only`);
  if (c.params.service) url.searchParams.set("service", c.params.service);
  url.searchParams.set("scope", scope);
  return url;
}
