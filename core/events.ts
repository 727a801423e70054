// A local, in-process event bus: ephemeral notifications between modules and
// plugins (a new probe sample, an applied command). Not replicated. One bus
// per node, built by main and passed down.
export type BusListener = (payload: unknown) => void;

export class EventBus {
  private topics = new Map<string, Set<BusListener>>();

  subscribe(topic: string, fn: BusListener): () => void {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (set!.size === 0) this.topics.delete(topic);
    };
  }

  publish(topic: string, payload: unknown): void {
    const set = this.topics.get(topic);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch {
        // One listener's failure must not stop delivery to the others;
        // plugin listeners are wrapped by the host, which marks the plugin failed.
      }
    }
  }

  /** Number of live subscriptions (leak tests). */
  size(): number {
    let n = 0;
    for (const s of this.topics.values()) n += s.size;
    return n;
  }
}
