// A container task's `user` (and an image config's `User`), as Docker and
// Nomad's docker driver take it: "name", "uid", "name:group", "uid:gid" (or
// a mix). Names are the image's own: they are looked up in the image's
// /etc/passwd and /etc/group by the driver (plugins/container/bundle.ts
// resolveUser), never in the node's, so here only the form is checked. Pure.
//
// This is not the exec driver's host user (Task.user): a container's uid 0
// is root inside its own pid and mount namespaces with the default
// capability set, not the agent's raw mode (core/scheduler/raw.ts).

/** One side of "user:group": a number, or a name to look up in the image. */
export type IdOrName = { id: number } | { name: string };

export interface ContainerUser {
  user: IdOrName;
  /** Absent: the user's primary group in the image's passwd (0 when it has no entry). */
  group?: IdOrName;
}

/** Longest text accepted (name:group, each at most 32 as useradd allows, with room for odd images). */
export const CONTAINER_USER_MAX = 65;
/** Names as image passwd files spell them: letters of either case, digits, "_", ".", "-"; not starting with "-". */
const NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.\-]{0,31}$/;
/** uid_t is 32 bits; 4294967295 is -1 ("no change") to the kernel's set*id calls. */
const MAX_ID = 4_294_967_294;

function side(text: string, what: "user" | "group"): IdOrName {
  if (/^[0-9]+$/.test(text)) {
    const id = Number(text);
    if (text.length > 10 || id > MAX_ID) throw new Error(`${what} id ${text} is out of range (0 to ${MAX_ID})`);
    return { id };
  }
  if (!NAME.test(text)) throw new Error(`${what} ${JSON.stringify(text)} is not a name (letters, digits, "_", "." and "-", at most 32) or a number`);
  return { name: text };
}

/**
 * "name", "uid", "name:group", "uid:gid" parsed; throws an Error saying
 * what is wrong. "" is not accepted here (an image config's empty User means
 * root, which resolveUser handles before calling this).
 */
export function parseContainerUser(text: string): ContainerUser {
  if (text.length === 0) throw new Error(`user must not be empty ("name", "uid", "name:group" or "uid:gid")`);
  if (text.length > CONTAINER_USER_MAX) throw new Error(`user must be at most ${CONTAINER_USER_MAX} characters`);
  const parts = text.split(":");
  if (parts.length > 2) throw new Error(`user ${JSON.stringify(text)}: one ":" at most ("name", "uid", "name:group" or "uid:gid")`);
  const [u, g] = parts as [string, string | undefined];
  return { user: side(u, "user"), ...(g !== undefined ? { group: side(g, "group") } : {}) };
}
