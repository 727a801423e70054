// The prepared-statement contract under Bun (bun:sqlite). Its twin prepared.node.ts runs it under Node.
import { test } from "bun:test";
import { preparedContract } from "./prepared-contract.ts";

preparedContract(test);
