// The ACL and intention CLI against a dev node with ACLs on: bootstrap, a
// policy from a rules file, a token holding it (secret shown once), list,
// read, delete; intentions create/list/check/delete with exit codes.
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, killAll, startCorral, tempDir } from "../helpers/proc.ts";
import { ACL_CONFIG } from "./helpers.ts";

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
  expect((await cli(node.url, management, "acl", "policy", "list")).out).toContain("global-management");

  const created = await cli(node.url, management, "acl", "token", "create", "--description", "ci", "--policy", "app", "--json");
  expect(created.code).toBe(0);
  const t = JSON.parse(created.out) as { AccessorID: string; SecretID: string };
  expect(t.SecretID).not.toBe("<hidden>");
  const read = await cli(node.url, management, "acl", "token", "read", t.AccessorID);
  expect(read.out).toContain("<hidden>");
  expect(read.out).not.toContain(t.SecretID);
  expect((await cli(node.url, management, "acl", "token", "list")).out).toContain(t.AccessorID);
  expect((await cli(node.url, t.SecretID, "kv", "put", "app/x", "1")).code).toBe(0);
  const denied = await cli(node.url, t.SecretID, "kv", "put", "other", "1");
  expect(denied.code).toBe(1);
  expect(denied.err).toContain("Permission denied");
  expect((await cli(node.url, management, "acl", "token", "delete", t.AccessorID)).code).toBe(0);
  expect((await cli(node.url, t.SecretID, "kv", "put", "app/x", "1")).err).toContain("ACL not found");

  expect((await cli(node.url, management, "intention", "create", "web", "db", "--allow")).code).toBe(0);
  expect((await cli(node.url, management, "intention", "create", "*", "db", "--deny")).code).toBe(0);
  expect((await cli(node.url, management, "intention", "create", "web", "db", "--deny")).code).toBe(1); // exists
  expect((await cli(node.url, management, "intention", "list")).out).toMatch(/web\s+=>\s+db\s+allow\s+9/);
  expect((await cli(node.url, management, "intention", "check", "web", "db")).code).toBe(0);
  const check = await cli(node.url, management, "intention", "check", "api", "db");
  expect(check.code).toBe(1);
  expect(check.out).toBe("Denied\n");
  expect((await cli(node.url, management, "intention", "delete", "web", "db")).code).toBe(0);
  expect((await cli(node.url, management, "intention", "check", "web", "db")).code).toBe(1);
  expect((await cli(node.url, management, "acl", "policy", "delete", "app")).code).toBe(0);
  expect(node.output()).not.toContain(management);
  await node.kill();
}, 60_000);
