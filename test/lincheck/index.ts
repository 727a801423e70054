export { checkHistory, type CheckOptions } from "./check.ts";
export { parseLines, toOperations } from "./history.ts";
export { registerModel } from "./register.ts";
export type * from "./types.ts";
