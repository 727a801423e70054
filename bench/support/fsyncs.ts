// corral_raft_fsyncs_total of a node (its /metrics), for the benchmarks that
// report fsyncs per write: group commit shows as fewer than one per write.
export async function fsyncsOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^corral_raft_fsyncs_total(?:\{[^}]*\})? (\d+(?:\.\d+)?(?:e\+?\d+)?)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
}
