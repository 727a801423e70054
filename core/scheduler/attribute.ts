// Node attribute interpolation used by constraints and spread:
//   ${attr.<key>}  → node.attributes[key]   (fingerprinted)
//   ${meta.<key>}  → node.meta[key]         (operator metadata)
//   ${node.id} ${node.name} ${node.status}
//   ${node.unique.id} ${node.unique.name}   (Nomad's spellings, as task interpolation takes them)
// Anything not wrapped in ${...} is a literal.

import type { NodeView } from "./types.ts";

export type AttributeReader = (node: NodeView) => string | undefined;

const INTERPOLATION = /^\$\{(attr|meta|node)\.([A-Za-z0-9_.\-]+)\}$/;
const NODE_FIELDS = new Set(["id", "name", "status", "unique.id", "unique.name"]);

/** Why `text` is not a valid attribute reference, or null when it is. */
export function attributeError(text: string): string | null {
  if (!text.startsWith("${")) return null; // a literal
  const m = INTERPOLATION.exec(text);
  if (!m) return `"${text}" is not a valid interpolation; use \${attr.<key>}, \${meta.<key>} or \${node.id|name|status}`;
  if (m[1] === "node" && !NODE_FIELDS.has(m[2]!)) {
    return `unknown node field "${m[2]}"; use \${node.id} (\${node.unique.id}), \${node.name} (\${node.unique.name}) or \${node.status}`;
  }
  return null;
}

/** Compile an attribute reference to a reader. Assumes attributeError(text) is null. */
export function compileAttribute(text: string): AttributeReader {
  const m = INTERPOLATION.exec(text);
  if (!m) return () => text;
  const key = m[2]!;
  switch (m[1]) {
    // Own keys only: ${meta.constructor} is a missing key, not Object's constructor.
    case "attr":
      return (node) => (Object.hasOwn(node.attributes, key) ? node.attributes[key] : undefined);
    case "meta":
      return (node) => (Object.hasOwn(node.meta, key) ? node.meta[key] : undefined);
    default:
      if (key === "id" || key === "unique.id") return (node) => node.id;
      if (key === "name" || key === "unique.name") return (node) => node.name;
      return (node) => node.status;
  }
}
