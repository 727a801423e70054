// The version compiled into the binary (read from package.json at build time).
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
