// Typed contracts between plugins over the node's local event bus.
//
// The bus carries `unknown` payloads under string topics; a Channel names a
// topic together with its payload type and the parse a subscriber applies
// (the publisher may be another plugin, or another version of one), so both
// ends of a contract import one value instead of agreeing on a string and a
// cast. An Announcement is the handshake plugins use to meet whatever order
// they start in: the owner publishes its state at start and whenever asked;
// a follower subscribes, then asks once.
import type { EventSubscription } from "./types.ts";

export interface Channel<T> {
  readonly topic: string;
  /** The payload as this contract's type, or undefined to drop it (malformed). */
  readonly parse: (payload: unknown) => T | undefined;
}

export function channel<T>(topic: string, parse: (payload: unknown) => T | undefined): Channel<T> {
  return { topic, parse };
}

/** The bus as a plugin holds it: ctx, or anything with ctx's publish and subscribe. */
export interface BusPublisher {
  publish(topic: string, payload: unknown): void;
}
export interface BusSubscriber {
  subscribe(topic: string, fn: (payload: unknown) => unknown): EventSubscription;
}

export function send<T>(bus: BusPublisher, ch: Channel<T>, payload: T): void {
  bus.publish(ch.topic, payload);
}

/**
 * Subscribe with the contract's parse applied; malformed payloads are dropped.
 * fn's promise is handed back to the bus, so a plugin context still marks the
 * plugin failed when it rejects.
 */
export function listen<T>(bus: BusSubscriber, ch: Channel<T>, fn: (payload: T) => unknown): EventSubscription {
  return bus.subscribe(ch.topic, (payload) => {
    const v = ch.parse(payload);
    return v === undefined ? undefined : fn(v);
  });
}

/** A request/announce handshake: `state` flows from its owner, `request` asks the owner to send it again. */
export interface Announcement<T> {
  state: Channel<T>;
  request: Channel<Record<string, never>>;
}

export function announcement<T>(topic: string, parse: (payload: unknown) => T | undefined): Announcement<T> {
  return { state: channel(topic, parse), request: channel(`${topic}.request`, () => ({})) };
}

/** Owner side: answer every request with `current()`, and announce it now. */
export function announce<T>(bus: BusPublisher & BusSubscriber, a: Announcement<T>, current: () => T): EventSubscription {
  const sub = listen(bus, a.request, () => send(bus, a.state, current()));
  send(bus, a.state, current());
  return sub;
}

/** Follower side: take every state the owner sends, and ask for it once (the owner may have started first). */
export function follow<T>(bus: BusPublisher & BusSubscriber, a: Announcement<T>, fn: (state: T) => void): EventSubscription {
  const sub = listen(bus, a.state, fn);
  send(bus, a.request, {});
  return sub;
}
