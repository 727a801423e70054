// `${...}` references in a template's data (docs/jobs.md "Interpolation"),
// pure. They are allowed only in the template's text, outside Liquid markup,
// and are never substituted into the text Liquid parses: each becomes a
// Liquid output of a variable bound to its value (`{{ __corral_ref_0 }}`).
// So a value (node meta, a dispatch's meta, an env value) that holds
// `{{ ... }}` or `{% ... %}` is printed as written, never run as Liquid with
// the agent's KV token; and what Liquid renders (a KV value holding `${...}`)
// is never read as a reference. A reference reads what `{{ env.X }}` and
// `{{ node.* }}` read: the task's own environment and its node, nothing else.
import { parseTemplate, type Part } from "../scheduler/interpolate.ts";

export type DataRefs =
  | { ok: true; liquid: string; refs: string[] }
  | { ok: false; error: string };

/** The Liquid variable that holds reference `i` while rendering. */
export const refVariable = (i: number): string => `__corral_ref_${i}`;

const RAW_OPEN = /^\{%-?\s*raw\s*-?%\}$/;
const RAW_CLOSE = /\{%-?\s*endraw\s*-?%\}/g;

/**
 * The template as Liquid text with its references replaced by variables,
 * and the reference names in order; or the first malformed or misplaced
 * reference. `$${` is a literal `${`; `{% raw %}` blocks are left alone.
 */
export function prepareTemplateData(data: string): DataRefs {
  const refs: string[] = [];
  let out = "";
  let i = 0;
  const text = (chunk: string, at: number): string | undefined => {
    const p = parseTemplate(chunk);
    if (!p.ok) return p.error.replace(/at character (\d+)/, (_m, n) => `at character ${Number(n) + at}`);
    out += p.parts.map((part: Part) => ("text" in part ? part.text : `{{ ${refVariable(refs.push(part.ref) - 1)} }}`)).join("");
    return undefined;
  };
  while (i < data.length) {
    const open = nextMarkup(data, i);
    if (open < 0) {
      const err = text(data.slice(i), i);
      if (err) return { ok: false, error: err };
      break;
    }
    const err = text(data.slice(i, open), i);
    if (err) return { ok: false, error: err };
    const closer = data[open + 1] === "{" ? "}}" : "%}";
    const close = data.indexOf(closer, open + 2);
    if (close < 0) {
      out += data.slice(open); // Liquid reports the unterminated markup
      break;
    }
    const markup = data.slice(open, close + 2);
    if (RAW_OPEN.test(markup)) {
      RAW_CLOSE.lastIndex = close + 2;
      const end = RAW_CLOSE.exec(data);
      const stop = end ? end.index + end[0].length : data.length;
      out += data.slice(open, stop);
      i = stop;
      continue;
    }
    if (/(^|[^$])\$\{/.test(markup)) {
      return { ok: false, error: `"\${" inside Liquid markup at character ${open + 1} (${markup.slice(0, 60)}): references are replaced only in the template's text; inside {{ }} and {% %} use env.CORRAL_* or node.*` };
    }
    out += markup.replaceAll("$${", "${"); // "$${" is a literal "${" in markup too
    i = close + 2;
  }
  return { ok: true, liquid: out, refs };
}

/** Where the next `{{` or `{%` starts at or after `from`, or -1. */
function nextMarkup(data: string, from: number): number {
  const a = data.indexOf("{{", from);
  const b = data.indexOf("{%", from);
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
}
