// One parse of a request's JSON body, shared by the ACL decision and the
// handler (security issue 13, "one parse, one decision").
//
// Two readings of one body can disagree: JSON.parse keeps the last of two
// equal keys, a lookup that walks the keys finds the first, and Consul's
// decoder matches field names case-insensitively — so `{"Node":"mine",
// "node":"victim"}` was authorized as "mine" and written as "victim". The
// route table mounts `jsonBodyGuard` in front of every route's ACL check (core/http/routes.ts):
// it reads the body once, parses it once, refuses any object holding two
// keys that are equal or differ only in letter case (400, at any depth), and
// keeps the parsed value on the request. Permission segments and handlers
// read that value (`requestBody`) and derive what they need from it through
// `once`, so the name the ACL checked is the name the handler writes.
//
// Bodies that are not JSON documents are left alone (KV values, proxied
// invoke calls, snapshot restores, peer RPC): see RAW_BODY_PATHS.
import type { Context, MiddlewareHandler } from "hono";
import { ApiError, consulError } from "./errors.ts";
import { isConsulPath } from "./consul-paths.ts";

/** Route paths (as written in createRoute) whose bodies are opaque bytes, not request documents. */
export const RAW_BODY_PATHS: readonly string[] = ["/v1/kv/", "/v1/invoke/", "/v1/snapshot", "/v1/cluster/", "/v1/raft/"];

export function takesRawBody(routePath: string): boolean {
  return RAW_BODY_PATHS.some((p) => routePath === p || routePath.startsWith(p));
}

/** A request body as read once: absent/blank, not JSON (TOML job specs, garbage), or a JSON value. */
export type RequestBody =
  | { kind: "empty"; text: string }
  | { kind: "invalid"; text: string; message: string }
  | { kind: "json"; text: string; value: unknown };

const BODY = "corral.requestBody";
const MEMO = "corral.requestMemo";

/**
 * The first key that occurs twice in one object of `text` (compared
 * lower-cased: Consul bodies are case-insensitive), or undefined. `text`
 * must be valid JSON (JSON.parse accepted it). Iterative: 20,000-deep
 * documents cost a stack array, not the call stack. Pure.
 */
export function duplicateKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = []; // a Set per open object, null per open array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j++;
        } else if (d === 0x22) break;
      }
      if (expectKey) {
        const literal = text.slice(i, j + 1);
        // "\u006eode" is "node": compare decoded keys.
        const key = escaped ? (JSON.parse(literal) as string) : literal.slice(1, -1);
        const seen = stack[stack.length - 1]!;
        const norm = key.toLowerCase();
        if (seen.has(norm)) return key;
        seen.add(norm);
        expectKey = false;
      }
      i = j;
    } else if (ch === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (ch === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return undefined;
}

/** A 400 in the route's dialect: Consul's text on Consul paths, { error, code } elsewhere. */
function badBody(c: Context, code: string, message: string): ApiError {
  return isConsulPath(c.req.path) ? consulError(400, `Request decode failed: ${message}`) : new ApiError(400, code, message);
}

/** Parses text into a RequestBody; throws a 400 for duplicate keys. Pure but for the error's dialect. */
function classify(c: Context, text: string): RequestBody {
  if (text.trim() === "") return { kind: "empty", text };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { kind: "invalid", text, message: String((err as Error).message).slice(0, 200) };
  }
  const dup = duplicateKey(text);
  if (dup !== undefined) {
    throw badBody(c, "DUPLICATE_KEY", `duplicate key ${JSON.stringify(dup.slice(0, 64))} in the JSON body (keys that differ only in letter case are the same key)`);
  }
  return { kind: "json", text, value };
}

/**
 * The request's body, read and parsed once per request (later calls get the
 * same object). The original request is left unread (a clone is read), so
 * forwarding it to a leader still sends the client's bytes.
 */
export async function requestBody(c: Context): Promise<RequestBody> {
  const cached = c.get(BODY as never) as RequestBody | undefined;
  if (cached) return cached;
  let text = "";
  if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.req.raw.body) {
    try {
      text = new TextDecoder().decode(await c.req.raw.clone().arrayBuffer());
    } catch (err) {
      // The body limit's error (a 413 once it unwinds) and ours pass; a client gone mid-body is a 400.
      if (err instanceof ApiError || (err as Error)?.name === "BodyLimitError") throw err;
      throw badBody(c, "INVALID_INPUT", "the body could not be read");
    }
  }
  const body = classify(c, text);
  c.set(BODY as never, body as never);
  return body;
}

/** Route middleware: every JSON body is parsed (and its duplicate keys refused) before the ACL decision. */
export const jsonBodyGuard: MiddlewareHandler = async function jsonBodyGuard(c, next) {
  if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.req.method !== "OPTIONS") await requestBody(c);
  return next();
};

/**
 * `derive()` run once per request under `key`; later calls get the same
 * value, or the same error again. A permission segment and a handler that
 * both need the parsed registration call this with the same key and get the
 * one object the ACL decision was made on.
 */
export async function once<T>(c: Context, key: string, derive: () => T | Promise<T>): Promise<T> {
  let memo = c.get(MEMO as never) as Map<string, Promise<T>> | undefined;
  if (!memo) c.set(MEMO as never, (memo = new Map()) as never);
  let p = memo.get(key);
  if (!p) {
    p = (async () => derive())();
    memo.set(key, p);
    p.catch(() => {}); // awaited by the callers; never an unhandled rejection
  }
  return p;
}
