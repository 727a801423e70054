// Who is using the page: are ACLs on, which token, and what it may do.
// Everything comes from GET /v1/ui/session, answered by the server's own ACL
// enforcement for this token (plugins/ui/session.ts), so a button is greyed
// out exactly when the request behind it would be refused.
import { api, enc, getToken, HttpError, setToken } from "./api.ts";

export interface Session {
  aclEnabled: boolean;
  token: { accessorId: string; description: string; anonymous: boolean } | null;
  /** The applied log index when the session was read (where the event feed starts). */
  index: number;
  /** Set when a stored token was refused and dropped. */
  rejected?: string;
}

interface SessionAnswer {
  acl: { enabled: boolean };
  token: Session["token"];
  can: Record<string, boolean>;
}

let current: Session = { aclEnabled: false, token: null, index: 0 };
let cache = new Map<string, boolean>();
const listeners = new Set<() => void>();

export function session(): Session {
  return current;
}

export function onSessionChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Reads the session; a stored token the server refuses is dropped (and said so). */
export async function loadSession(): Promise<Session> {
  let rejected: string | undefined;
  let a;
  try {
    a = await api<SessionAnswer>("/v1/ui/session");
  } catch (err) {
    if (!(err instanceof HttpError && err.denied && getToken())) throw err;
    rejected = `The stored token was refused (${err.message}); you are signed out.`;
    setToken("");
    a = await api<SessionAnswer>("/v1/ui/session");
  }
  cache = new Map();
  current = { aclEnabled: a.data.acl.enabled, token: a.data.token, index: a.index, rejected };
  return current;
}

/** Tries a token; on success it is stored and every listener re-reads what it shows. */
export async function signIn(token: string): Promise<void> {
  const res = await fetch("/v1/ui/session", { headers: { "X-Consul-Token": token }, cache: "no-store" });
  if (!res.ok) {
    const text = await res.text();
    throw new HttpError(res.status, res.status === 403 ? "This token is not known to the cluster (ACL not found)." : text || `HTTP ${res.status}`);
  }
  setToken(token);
  await loadSession();
  for (const fn of listeners) fn();
}

export async function signOut(): Promise<void> {
  setToken("");
  await loadSession();
  for (const fn of listeners) fn();
}

/** May this token do each check ("plugin:write:dns")? Answers are cached until the token changes. */
export async function can(checks: string[]): Promise<Record<string, boolean>> {
  const missing = [...new Set(checks.filter((c) => !cache.has(c)))];
  for (let i = 0; i < missing.length; i += 50) {
    const part = missing.slice(i, i + 50);
    const a = await api<SessionAnswer>(`/v1/ui/session?${part.map((c) => `can=${enc(c)}`).join("&")}`);
    for (const c of part) cache.set(c, a.data.can[c] ?? false);
  }
  return Object.fromEntries(checks.map((c) => [c, cache.get(c) ?? false]));
}

/** "plugin:write:dns" → why a control is off, in words. */
export function reasonFor(check: string): string {
  const [resource, access, ...rest] = check.split(":");
  const segment = rest.join(":");
  const what = access === "write-under" ? `write on everything under "${segment}"` : `${access}${segment ? ` on "${segment}"` : ""}`;
  return `Your token may not do this: it needs ${resource} ${what}.`;
}
