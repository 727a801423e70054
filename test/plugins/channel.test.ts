// Typed plugin contracts over the local event bus (core/plugins/channel.ts):
// the request/announce handshake meets in either start order, a malformed
// payload never reaches a subscriber, and a subscriber's rejection still
// reaches the bus's owner (the plugin context marks the plugin failed).
import { describe, expect, test } from "bun:test";
import { EventBus } from "../../core/events.ts";
import { announce, announcement, channel, follow, listen, send } from "../../core/sdk/index.ts";

/** A plugin's view of the bus, as ctx gives it. */
function view(bus: EventBus) {
  return {
    publish: (topic: string, payload: unknown) => bus.publish(topic, payload),
    subscribe: (topic: string, fn: (payload: unknown) => unknown) => {
      const off = bus.subscribe(topic, (p) => void fn(p));
      return { unsubscribe: off };
    },
  };
}

const STATE = announcement<{ on: boolean }>("demo.state", (p) =>
  typeof (p as { on?: unknown })?.on === "boolean" ? (p as { on: boolean }) : undefined,
);

describe("plugin channels", () => {
  test("the handshake meets whichever side starts first", () => {
    for (const ownerFirst of [true, false]) {
      const bus = new EventBus();
      const seen: boolean[] = [];
      const start = [() => announce(view(bus), STATE, () => ({ on: true })), () => follow(view(bus), STATE, (s) => seen.push(s.on))];
      (ownerFirst ? start : start.reverse()).forEach((f) => f());
      expect(seen.length).toBeGreaterThanOrEqual(1);
      expect(seen.every((on) => on)).toBe(true);
    }
  });

  test("topics keep their wire names", () => {
    expect(STATE.state.topic).toBe("demo.state");
    expect(STATE.request.topic).toBe("demo.state.request");
  });

  test("a malformed payload is dropped, a valid one arrives typed", () => {
    const bus = new EventBus();
    const got: Array<{ on: boolean }> = [];
    listen(view(bus), STATE.state, (s) => got.push(s));
    bus.publish("demo.state", { on: "yes" });
    bus.publish("demo.state", undefined);
    send(view(bus), STATE.state, { on: false });
    expect(got).toEqual([{ on: false }]);
  });

  test("a subscriber's promise is handed back to the bus", async () => {
    const returned: unknown[] = [];
    const sub = {
      publish() {},
      subscribe: (_t: string, fn: (p: unknown) => unknown) => {
        returned.push(fn({}));
        return { unsubscribe() {} };
      },
    };
    listen(sub, channel("x", () => ({})), async () => {
      throw new Error("boom");
    });
    expect(returned[0]).toBeInstanceOf(Promise);
    await expect(returned[0] as Promise<unknown>).rejects.toThrow("boom");
  });
});
