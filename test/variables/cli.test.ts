// Variables through the real binary: the CLI's put/get/check-index
// conflict/list/purge against a dev node, the plaintext never on disk (every
// file of the data dir: state.db with its WAL, the log table, raft files)
// nor in a snapshot, and key rotation (plain and --full) after which old
// variables still read.
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, getJson, killAll, startCorral, tempDir } from "../helpers/proc.ts";
import { corralEach, type CliResult } from "../helpers/cli-batch.ts";

afterAll(() => killAll());

function cli(url: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: url, CORRAL_TOKEN: "" } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => resolve({ code: code ?? 1, out, err }));
  });
}

/** Several independent `cli` calls, side by side (test/helpers/cli-batch.ts). */
function clis<const L extends readonly string[][]>(url: string, ...calls: L): Promise<{ -readonly [K in keyof L]: CliResult }> {
  return corralEach(calls, { CORRAL_ADDR: url, CORRAL_TOKEN: "" });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test("var put, get, check-index conflict, list, purge", async () => {
  const node = await startCorral({ role: "dev" });
  const put = await cli(node.url, "var", "put", "jobs/web/db", "user=app", "password=hunter2");
  expect(put.err).toBe("");
  expect(put.code).toBe(0);
  expect(put.out).toMatch(/wrote jobs\/web\/db \(ModifyIndex \d+\)/);
  const modify = Number(/ModifyIndex (\d+)/.exec(put.out)![1]);

  // Independent reads (and refused writes) run side by side: each is still its own CLI process.
  const [get, item, missing] = await clis(node.url, ["var", "get", "jobs/web/db"], ["var", "get", "jobs/web/db", "--item", "password"], ["var", "get", "jobs/web/nope"]);
  expect(get.code).toBe(0);
  expect(get.out.split("\n").filter(Boolean).sort()).toEqual(["password=hunter2", "user=app"]);
  expect(item.out).toBe("hunter2\n");
  expect(missing.code).toBe(1);
  expect(missing.err).toContain("no variable jobs/web/nope");

  // check-index: 0 = must not exist; a stale index is refused with what is there now.
  const [exists, stale] = await clis(node.url, ["var", "put", "jobs/web/db", "user=x", "-check-index", "0"], ["var", "put", "jobs/web/db", "user=x", "--check-index", String(modify + 1000)]);
  expect(exists.code).toBe(1);
  expect(exists.err).toContain(`ModifyIndex is ${modify}`);
  expect(stale.code).toBe(1);
  const ok = await cli(node.url, "var", "put", "jobs/web/db", "user=y", "--check-index", String(modify));
  expect(ok.code).toBe(0);
  expect((await cli(node.url, "var", "get", "jobs/web/db", "--item", "user")).out).toBe("y\n");

  // The API's 409 carries the current variable's metadata, never its items.
  const conflict = await getJson(`${node.url}/v1/var/jobs/web/db?cas=0`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ Items: { a: "b" } }) });
  expect(conflict.status).toBe(409);
  expect(conflict.body.code).toBe("CAS_CONFLICT");
  expect(conflict.body.Path).toBe("jobs/web/db");
  expect(conflict.body.Items).toBeUndefined();

  // -in json from a file
  const file = join(tempDir(), "items.json");
  writeFileSync(file, JSON.stringify({ Items: { token: "abc" } }));
  const puts = await clis(node.url, ["var", "put", "jobs/api/cfg", "-in", "json", file], ["var", "put", "other/thing", "k=v"]);
  expect(puts.map((r) => r.code)).toEqual([0, 0]);

  const [list, listAll] = await clis(node.url, ["var", "list", "jobs/", "--json"], ["var", "list"]);
  expect(list.code).toBe(0);
  const metas = JSON.parse(list.out) as Record<string, unknown>[];
  expect(metas.map((m) => m.Path)).toEqual(["jobs/api/cfg", "jobs/web/db"]);
  for (const m of metas) expect(m.Items).toBeUndefined();
  expect(listAll.out).toContain("other/thing");

  expect((await cli(node.url, "var", "purge", "jobs/api/cfg", "--check-index", "1")).code).toBe(1);
  const purge = await cli(node.url, "var", "purge", "jobs/api/cfg");
  expect(purge.code).toBe(0);
  expect((await cli(node.url, "var", "get", "jobs/api/cfg")).code).toBe(1);
  expect((await getJson(`${node.url}/v1/var/jobs/api/cfg`)).status).toBe(404);
}, 120_000);

test("bad paths and items get clear errors; limits answer 400 and 413", async () => {
  const node = await startCorral({ role: "dev" });
  const put = (path: string, body: unknown) =>
    getJson(`${node.url}/v1/var/${path}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  for (const [path, body, status] of [
    ["a//b", { Items: { k: "v" } }, 400],
    ["a/b/", { Items: { k: "v" } }, 400],
    ["a/%2F/b", { Items: { k: "v" } }, 400],
    ["a b", { Items: { k: "v" } }, 400],
    ["x".repeat(129), { Items: { k: "v" } }, 400],
    ["ok", { Items: {} }, 400],
    ["ok", { Items: { k: 1 } }, 400],
    ["ok", { Items: { "bad key": "v" } }, 400],
    ["ok", { Items: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) }, 400],
    ["ok", { Items: { k: "x".repeat(70_000) } }, 413],
  ] as const) {
    const r = await put(path, body);
    expect({ path: path.slice(0, 20), status: r.status }).toEqual({ path: path.slice(0, 20), status });
    expect(typeof r.body.error).toBe("string");
    expect(typeof r.body.code).toBe("string");
  }
  // The worst case for the ciphertext's size: 64 KiB of characters JSON escapes as \u00XX.
  const escaped = await put("escapes", { Items: { k: "\u0001".repeat(65_535) } });
  expect(escaped.status).toBe(200);
  expect((await getJson(`${node.url}/v1/var/escapes`)).body.Items.k.length).toBe(65_535);
  const notJson = await getJson(`${node.url}/v1/var/ok`, { method: "PUT", body: "k=v" });
  expect(notJson.status).toBe(400);
  expect(notJson.body.code).toBe("INVALID_INPUT");
}, 120_000);

test("the plaintext is in no file of the data dir nor in a snapshot; rotation keeps old variables readable", async () => {
  const node = await startCorral({ role: "dev" });
  const secret = "plaintext-canary-7f3a9c2e51";
  const puts = await clis(node.url, ["var", "put", "jobs/web/db", `password=${secret}`], ["var", "put", "jobs/web/other", `x=${secret}-2`]);
  expect(puts.map((r) => r.code)).toEqual([0, 0]);
  // The variable is really stored (ciphertext) and reads back.
  expect((await cli(node.url, "var", "get", "jobs/web/db", "--item", "password")).out).toBe(secret + "\n");

  const files = filesUnder(node.dataDir);
  expect(files.some((f) => f.endsWith("state.db"))).toBe(true);
  let holdsPath = false;
  for (const f of files) {
    const bytes = readFileSync(f);
    expect({ file: f, found: bytes.includes(secret) }).toEqual({ file: f, found: false });
    if (bytes.includes("jobs/web/db")) holdsPath = true;
  }
  expect(holdsPath).toBe(true); // the grep looked where the variable is

  const snap = await fetch(`${node.url}/v1/snapshot`);
  expect(snap.status).toBe(200);
  const snapText = await snap.text();
  expect(snapText).toContain("jobs/web/db"); // the variable is in it...
  expect(snapText).not.toContain(secret); // ...its items are not
  expect(snapText).not.toContain(Buffer.from(secret).toString("base64").slice(0, 16));

  // Rotation: a new active key; variables under the old one still read.
  const keys1 = (await getJson(`${node.url}/v1/operator/keyring/keys`)).body as { KeyID: string; Active: boolean }[];
  expect(keys1.length).toBe(1);
  expect(JSON.stringify(keys1)).not.toMatch(/wrapped|nonce|key"/i);
  const rot = await cli(node.url, "operator", "keyring", "rotate");
  expect(rot.code).toBe(0);
  expect(rot.out).toContain("new active key");
  expect((await cli(node.url, "var", "get", "jobs/web/db", "--item", "password")).out).toBe(secret + "\n");
  const keys2 = (await getJson(`${node.url}/v1/operator/keyring/keys`)).body as { KeyID: string; Active: boolean }[];
  expect(keys2.length).toBe(2);
  expect(keys2.filter((k) => k.Active).map((k) => k.KeyID)).not.toEqual([keys1[0]!.KeyID]);

  const full = await cli(node.url, "operator", "keyring", "rotate", "--full", "--json");
  expect(full.code).toBe(0);
  expect(JSON.parse(full.out).Reencrypted).toBe(2);
  const [db, other] = await clis(node.url, ["var", "get", "jobs/web/db", "--item", "password"], ["var", "get", "jobs/web/other", "--item", "x"]);
  expect(db.out).toBe(secret + "\n");
  expect(other.out).toBe(`${secret}-2\n`);

  // After restart (keys unwrapped again from state with the cluster secret), still readable.
  await node.kill("SIGTERM");
  const again = await startCorral({ role: "dev", dataDir: node.dataDir });
  expect((await cli(again.url, "var", "get", "jobs/web/db", "--item", "password")).out).toBe(secret + "\n");
}, 180_000);
