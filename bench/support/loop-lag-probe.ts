// An event-loop lag probe, preloaded into a corral process by a bench
// (bench/invoke-mesh.ts --lag-probe DIR passes it to both agents as
// `BUN_OPTIONS=--preload …`): a 1 ms timer whose lateness is sampled on
// every tick. A tick more than 1.5 ms late is logged to DIR/lag-<pid>.log as
//   <epoch ms> <lateness ms> <process CPU ms spent in the gap> <RSS MB>
// The CPU figure tells the two kinds of stall apart: close to the lateness,
// the process itself was busy (a GC, synchronous work, handshakes); near 0,
// it was not running (the machine's other work had the cores). Compare the
// epochs with the paced generator's slow requests (bench/support/paced.ts
// measures from when each was due). The probe costs a wake-up per ms: use
// it to find stalls, not in the runs whose figures are reported.
import { appendFileSync } from "node:fs";

const dir = process.env.CORRAL_LAG_PROBE_DIR ?? ".";
const file = `${dir}/lag-${process.pid}.log`;
let last = performance.now();
let lastCpu = process.cpuUsage();
const pending: string[] = [];

setInterval(() => {
  const now = performance.now();
  const cpu = process.cpuUsage();
  const late = now - last - 1;
  if (late > 1.5) {
    const used = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
    pending.push(`${(performance.timeOrigin + now).toFixed(1)} ${late.toFixed(2)} ${used.toFixed(2)} ${(process.memoryUsage.rss() / 1e6).toFixed(0)}`);
  }
  last = now;
  lastCpu = cpu;
}, 1);

// Written in batches, off the sampled ticks' path.
setInterval(() => {
  if (pending.length === 0) return;
  appendFileSync(file, pending.join("\n") + "\n");
  pending.length = 0;
}, 500);
