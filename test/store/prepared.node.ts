// The prepared-statement contract under Node (better-sqlite3). test/run.ts bundles this
// file with esbuild and runs it with `node --test`.
import { test } from "node:test";
import { preparedContract } from "./prepared-contract.ts";

preparedContract(test);
