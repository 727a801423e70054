// The store contract under Node (better-sqlite3). test/run.ts bundles this
// file with esbuild and runs it with `node --test`.
import { test, after } from "node:test";
import { storeContract, cleanupStoreDirs } from "./contract.ts";

storeContract(test, "node");
after(cleanupStoreDirs);
