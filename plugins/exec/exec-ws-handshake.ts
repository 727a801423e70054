// Nomad's browser handshake for an exec session (?ws_handshake=true): a web
// page cannot set a header on a WebSocket, so its first frame carries the
// token, {"version":1,"auth_token":"..."}. This wraps a session: nothing of
// it starts (no process, no relay) until that frame came and `authorize`
// accepted its token; frames sent meanwhile wait, in order. A refusal, a
// first frame of another shape, or none within HANDSHAKE_MS closes the
// socket (1008) with the reason.
import { z } from "zod";
import type { SessionSocket, WebSocketSession } from "../../core/sdk/index.ts";
import { CLOSE_BAD_FRAME } from "./exec-ws-protocol.ts";

const HANDSHAKE_MS = 10_000;
const MAX_WAITING_FRAMES = 256;

const AuthFrame = z.object({ version: z.literal(1), auth_token: z.string().max(512) }).strict();

export function withTokenHandshake(authorize: (token: string) => Promise<WebSocketSession>, onEnd: () => void): WebSocketSession {
  let inner: WebSocketSession | undefined;
  let state: "waiting" | "checking" | "open" | "closed" = "waiting";
  let waiting: (string | Uint8Array)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const refuse = (ws: SessionSocket, reason: string) => {
    state = "closed";
    clearTimeout(timer);
    try {
      ws.close(CLOSE_BAD_FRAME, reason.slice(0, 120));
    } catch {}
  };
  return {
    open(ws) {
      timer = setTimeout(() => {
        if (state === "waiting") refuse(ws, "no handshake frame {\"version\":1,\"auth_token\":...} came");
      }, HANDSHAKE_MS);
    },
    message(ws, data) {
      if (state === "open") return inner!.message(ws, data);
      if (state === "checking") {
        if (waiting.length >= MAX_WAITING_FRAMES) return refuse(ws, "too many frames before the handshake was answered");
        waiting.push(data);
        return;
      }
      if (state !== "waiting") return;
      let parsed: ReturnType<typeof AuthFrame.safeParse> | undefined;
      try {
        parsed = AuthFrame.safeParse(JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data)));
      } catch {}
      if (!parsed?.success) return refuse(ws, "the first frame must be {\"version\":1,\"auth_token\":...} (ws_handshake)");
      state = "checking";
      clearTimeout(timer);
      authorize(parsed.data.auth_token).then((session) => {
        if (state !== "checking") return; // the client left meanwhile
        inner = session;
        state = "open";
        session.open(ws);
        for (const m of waiting) session.message(ws, m);
        waiting = [];
      }, (err: unknown) => refuse(ws, err instanceof Error ? err.message : "refused"));
    },
    close(ws, code, reason) {
      clearTimeout(timer);
      const was = state;
      state = "closed";
      if (was === "open") inner!.close(ws, code, reason);
      else onEnd();
    },
    drain(ws) {
      if (state === "open") inner!.drain?.(ws);
    },
  };
}
