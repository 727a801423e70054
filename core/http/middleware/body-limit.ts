// Rejects bodies over maxBytes with 413 before a handler reads them.
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

export function bodyLimit(opts: { maxBytes: number }): MiddlewareHandler {
  return honoBodyLimit({
    maxSize: opts.maxBytes,
    onError: () => {
      throw new ApiError(413, "BODY_TOO_LARGE", `request body is larger than ${opts.maxBytes} bytes`);
    },
  });
}
