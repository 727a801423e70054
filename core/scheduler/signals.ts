// The signals `alloc signal` and a template's change_signal may send (pure;
// core, as the job spec validates change_signal with it). A name from the request is
// only ever looked up here and handed to process.kill as one of these
// constants: no user text reaches a shell or a process table. Signals that
// would stop or freeze the task without the agent noticing (SIGSTOP,
// SIGTSTP) or are the kernel's to send (SIGSEGV, SIGBUS, SIGCHLD ...) are
// not on the list.
export const ALLOWED_SIGNALS = [
  "SIGHUP", "SIGINT", "SIGQUIT", "SIGABRT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
  "SIGCONT", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
] as const satisfies readonly NodeJS.Signals[];

export type AllowedSignal = (typeof ALLOWED_SIGNALS)[number];

/** Nomad's default for `alloc signal` without -s. */
export const DEFAULT_SIGNAL: AllowedSignal = "SIGKILL";

/** "SIGUSR1", "sigusr1" or "USR1" → "SIGUSR1"; undefined when not allowed. */
export function parseSignal(name: string): AllowedSignal | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return (ALLOWED_SIGNALS as readonly string[]).includes(full) ? (full as AllowedSignal) : undefined;
}
