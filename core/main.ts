#!/usr/bin/env bun
// The corral binary's entry point.
import { main } from "./cli/index.ts";

const code = await main(process.argv.slice(2));
process.exit(code);
