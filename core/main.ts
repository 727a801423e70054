#!/usr/bin/env bun
// The corral binary's entry point.
import { main } from "./cli/index.ts";
import { restrictUmask } from "./cluster/data-dir.ts";

// Files corral writes (data dir, backups) are the user's alone: docs/security.md, "Files".
restrictUmask();

const code = await main(process.argv.slice(2));
process.exit(code);
