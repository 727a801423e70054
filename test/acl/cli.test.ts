// The ACL and intention CLI against a dev node with ACLs on: bootstrap, a
// policy from a rules file, a token holding it (secret shown once), list,
// read, delete; intentions create/list/check/delete with exit codes.
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, killAll, startCorral, tempDir } from "../helpers/proc.ts";
import { ACL_CONFIG } from "./helpers.ts";
import { corralEach } from "../helpers/cli-batch.ts";

afterAll(() => killAll());

function cli(url: string, token: string | undefined, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: url, CORRAL_TOKEN: token ?? "" } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => resolve({ code: code ?? 1, out, err }));
  });
}

test("acl bootstrap, policy, token, intention commands", async () => {
  const node = await startCorral({ role: "dev", config: ACL_CONFIG });
  const boot = await cli(node.url, undefined, "acl", "bootstrap", "--json");
  expect(boot.code).toBe(0);
  const management = JSON.parse(boot.out).SecretID as string;
  const again = await cli(node.url, undefined, "acl", "bootstrap");
  expect(again.code).toBe(1);
  expect(again.err).toContain("ACL bootstrap no longer allowed");

  const rules = join(tempDir(), "app.hcl");
  writeFileSync(rules, 'key_prefix "app/" { policy = "write" }\n');
  const pol = await cli(node.url, management, "acl", "policy", "create", "app", "--rules", rules, "--description", "the app");
  expect(pol.code).toBe(0);
  expect(pol.out).toContain('key_prefix "app/"');
  // Calls that do not depend on each other run side by side (test/helpers/cli-batch.ts).
  const as = (token: string, ...args: string[]) => ({ args, env: { CORRAL_ADDR: node.url, CORRAL_TOKEN: token } });
  const [policies, created] = await corralEach([
    as(management, "acl", "policy", "list"),
    as(management, "acl", "token", "create", "--description", "ci", "--policy", "app", "--json"),
  ]);
  expect(policies.out).toContain("global-management");
  expect(created.code).toBe(0);
  const t = JSON.parse(created.out) as { AccessorID: string; SecretID: string };
  expect(t.SecretID).not.toBe("<hidden>");
  const [read, tokens, allowed, denied] = await corralEach([
    as(management, "acl", "token", "read", t.AccessorID),
    as(management, "acl", "token", "list"),
    as(t.SecretID, "kv", "put", "app/x", "1"),
    as(t.SecretID, "kv", "put", "other", "1"),
  ]);
  expect(read.out).toContain("<hidden>");
  expect(read.out).not.toContain(t.SecretID);
  expect(tokens.out).toContain(t.AccessorID);
  expect(allowed.code).toBe(0);
  expect(denied.code).toBe(1);
  expect(denied.err).toContain("Permission denied");
  expect((await cli(node.url, management, "acl", "token", "delete", t.AccessorID)).code).toBe(0);
  expect((await cli(node.url, t.SecretID, "kv", "put", "app/x", "1")).err).toContain("ACL not found");

  const creates = await corralEach([as(management, "intention", "create", "web", "db", "--allow"), as(management, "intention", "create", "*", "db", "--deny")]);
  expect(creates.map((r) => r.code)).toEqual([0, 0]);
  const [exists] = await corralEach([as(management, "intention", "create", "web", "db", "--deny")]);
  expect(exists.code).toBe(1); // exists
  // After the refused create (not beside it): web => db is still allow.
  const [list, allowedCheck, check] = await corralEach([
    as(management, "intention", "list"),
    as(management, "intention", "check", "web", "db"),
    as(management, "intention", "check", "api", "db"),
  ]);
  expect(list.out).toMatch(/web\s+=>\s+db\s+allow\s+9/);
  expect(allowedCheck.code).toBe(0);
  expect(check.code).toBe(1);
  expect(check.out).toBe("Denied\n");
  expect((await cli(node.url, management, "intention", "delete", "web", "db")).code).toBe(0);
  expect((await cli(node.url, management, "intention", "check", "web", "db")).code).toBe(1);
  expect((await cli(node.url, management, "acl", "policy", "delete", "app")).code).toBe(0);
  expect(node.output()).not.toContain(management);
  await node.kill();
}, 180_000);
