// The replay warning of cluster.legacy_signatures: at start and then on every
// tick while v1 is accepted ("accept", "send"); never for "off"; stops when asked.
import { expect, test } from "bun:test";
import { LEGACY_WARNING, LEGACY_WARNING_EVERY_MS, startLegacySignatureWarning } from "../../core/cluster/legacy-signature-warning.ts";
import type { Logger } from "../../core/log.ts";

function recorder() {
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log = { debug() {}, info() {}, error() {}, warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }) } as unknown as Logger;
  return { lines, log };
}

test("once a minute by default, with the documented text", () => {
  expect(LEGACY_WARNING_EVERY_MS).toBe(60_000);
  expect(LEGACY_WARNING).toBe("legacy v1 signatures accepted: replay protection is off until cluster.legacy_signatures = off");
});

test('"accept" and "send" warn at start and on every tick until stopped; "off" never', async () => {
  for (const mode of ["accept", "send"] as const) {
    const r = recorder();
    const stop = startLegacySignatureWarning(mode, r.log, 10);
    expect(r.lines.length).toBe(1);
    // At least one tick after the start line (a loaded machine may delay some).
    for (let waited = 0; r.lines.length < 2 && waited < 5000; waited += 50) await Bun.sleep(50);
    stop();
    const ticks = r.lines.length;
    expect(ticks).toBeGreaterThanOrEqual(2);
    expect(r.lines.every((l) => l.msg === LEGACY_WARNING && l.fields?.legacySignatures === mode)).toBe(true);
    await Bun.sleep(60);
    expect(r.lines.length).toBe(ticks);
  }
  const off = recorder();
  const stop = startLegacySignatureWarning("off", off.log, 20);
  await Bun.sleep(60);
  stop();
  expect(off.lines).toEqual([]);
});
