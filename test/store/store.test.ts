// The store contract under Bun (bun:sqlite). Its twin store.node.ts runs it under Node.
import { afterAll, test } from "bun:test";
import { storeContract, cleanupStoreDirs } from "./contract.ts";

storeContract(test, "bun");
afterAll(cleanupStoreDirs);
