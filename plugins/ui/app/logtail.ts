// A task's output, followed live: GET /v1/alloc/{id}/logs?follow=true is a
// streamed text body (any node passes it on to the one running the
// allocation), read chunk by chunk with fetch so the token can go in a
// header. Only the last MAX_CHARS are kept on screen.
import { getToken } from "./api.ts";
import { fill, h, uid } from "./dom.ts";

const MAX_CHARS = 200_000;

export function logTail(allocId: string, tasks: string[], signal: AbortSignal): HTMLElement {
  const taskId = uid("task");
  const typeId = uid("stream");
  const task = h("select", { id: taskId, class: "input input-inline" }, tasks.map((t) => h("option", { value: t }, t)));
  const type = h("select", { id: typeId, class: "input input-inline" }, h("option", { value: "stdout" }, "stdout"), h("option", { value: "stderr" }, "stderr"));
  const state = h("span", { class: "muted", role: "status" });
  // role=log, but not announced: a chatty task would drown a screen reader; the status line says what happens.
  const pre = h("pre", { class: "log", role: "log", "aria-live": "off", tabindex: "0", "aria-label": "Task output" });
  let ctrl: AbortController | undefined;
  signal.addEventListener("abort", () => ctrl?.abort(), { once: true });

  const follow = async () => {
    ctrl?.abort();
    const mine = (ctrl = new AbortController());
    pre.textContent = "";
    state.textContent = "connecting…";
    const qs = `task=${encodeURIComponent(task.value)}&type=${type.value}&follow=true`;
    try {
      const token = getToken();
      const res = await fetch(`/v1/alloc/${encodeURIComponent(allocId)}/logs?${qs}`, { signal: mine.signal, headers: token ? { "X-Consul-Token": token } : {}, cache: "no-store" });
      if (!res.ok || !res.body) {
        const body = await res.text();
        let msg = body;
        try {
          msg = (JSON.parse(body) as { error?: string }).error ?? body;
        } catch {
          // text answer
        }
        state.textContent = `no output: ${msg || res.status}`;
        return;
      }
      state.textContent = "following (new output appears as the task writes it)";
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 24;
        let text = (pre.textContent ?? "") + decoder.decode(value, { stream: true });
        if (text.length > MAX_CHARS) text = text.slice(text.length - MAX_CHARS);
        pre.textContent = text;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
      state.textContent = "the stream ended (the task stopped, or the node went away)";
    } catch (err) {
      if (!mine.signal.aborted) state.textContent = `stream failed: ${(err as Error).message}`;
    }
  };
  task.addEventListener("change", follow);
  type.addEventListener("change", follow);
  const box = h(
    "div",
    { class: "logtail" },
    h("div", { class: "toolbar" }, h("label", { for: taskId }, "Task"), task, h("label", { for: typeId }, "Stream"), type, state),
    pre,
  );
  if (tasks.length === 0) fill(box, h("p", { class: "muted" }, "This allocation has no tasks."));
  else void follow();
  return box;
}
