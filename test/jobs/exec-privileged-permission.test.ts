// alloc exec into a task that holds the node's own privileges — a raw task
// or a privileged container — needs operator:write on top of alloc_exec
// (plugins/exec/exec-routes.ts requireRawPermission; the routes, POST and
// WebSocket, call it with the identity the node resolved).
import { describe, expect, test } from "bun:test";
import { requireRawPermission } from "../../plugins/exec/exec-routes.ts";

const who = (operator: boolean) => ({ authz: { allowed: (resource: string, _s: string, access: string) => operator && resource === "operator" && access === "write" } }) as never;
const allocWith = (...tasks: Record<string, unknown>[]) => ({ groupSpec: { tasks } }) as never;
const plain = { name: "web", driver: "exec" };
const privileged = { name: "ctr", driver: "container", container: { image: "app", privileged: true } };
const raw = { name: "raw", driver: "raw_exec" };

describe("alloc exec into a task with the node's privileges", () => {
  test("a privileged container needs operator:write, named in the refusal", () => {
    expect(() => requireRawPermission(allocWith(plain, privileged), "ctr", who(false))).toThrow(/task "ctr" is a privileged container.*operator:write/);
    expect(() => requireRawPermission(allocWith(plain, privileged), undefined, who(false))).toThrow(/privileged container/);
    expect(() => requireRawPermission(allocWith(plain, privileged), "ctr", who(true))).not.toThrow();
  });
  test("raw tasks as before; an ordinary task, or no ACLs (no identity), passes", () => {
    expect(() => requireRawPermission(allocWith(raw), "raw", who(false))).toThrow(/raw mode/);
    expect(() => requireRawPermission(allocWith(plain, privileged), "web", who(false))).not.toThrow();
    expect(() => requireRawPermission(allocWith(privileged), "ctr", undefined as never)).not.toThrow();
  });
});
