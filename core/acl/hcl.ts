// The small subset of HCL that Consul policies are written in:
//
//   operator = "read"
//   key_prefix "app/" { policy = "write" }
//   service "web" {
//     policy     = "read"
//     intentions = "write"
//   }
//
// turned into the JSON form (`{"operator": "read", "key_prefix": {"app/":
// {"policy": "write"}}, ...}`), which rules.ts validates. Comments (#, //,
// /* */) are skipped. Pure; throws RulesError with line numbers.
export class RulesError extends Error {}

type Tok = { kind: "ident" | "string" | "{" | "}" | "=" | "eof"; text: string; line: number };

const MAX_DEPTH_BLOCKS = 2_000;

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === "\n") line++;
    if (/\s|,/.test(ch)) { i++; continue; }
    if (ch === "#" || (ch === "/" && src[i + 1] === "/")) {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if (ch === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end === -1) throw new RulesError(`line ${line}: unterminated comment`);
      line += src.slice(i, end).split("\n").length - 1;
      i = end + 2;
      continue;
    }
    if (ch === "{" || ch === "}" || ch === "=") {
      out.push({ kind: ch, text: ch, line });
      i++;
      continue;
    }
    if (ch === '"') {
      const [text, next] = readString(src, i + 1, line);
      out.push({ kind: "string", text, line });
      i = next;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i, i + 64));
    if (!m) throw new RulesError(`line ${line}: unexpected character ${JSON.stringify(ch)}`);
    out.push({ kind: "ident", text: m[0], line });
    i += m[0].length;
  }
  out.push({ kind: "eof", text: "", line });
  return out;
}

function readString(src: string, from: number, line: number): [string, number] {
  let s = "";
  for (let i = from; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === '"') return [s, i + 1];
    if (ch === "\n") break;
    if (ch === "\\") {
      const esc = src[++i];
      s += esc === "n" ? "\n" : esc === "t" ? "\t" : (esc ?? "");
      continue;
    }
    s += ch;
  }
  throw new RulesError(`line ${line}: unterminated string`);
}

/** Parses HCL policy text into the JSON shape of a Consul policy. */
export function parseHcl(src: string): Record<string, unknown> {
  const toks = tokenize(src);
  let at = 0;
  const peek = () => toks[at]!;
  const take = (kind: Tok["kind"], what: string) => {
    const t = toks[at]!;
    if (t.kind !== kind) throw new RulesError(`line ${t.line}: expected ${what}, found ${t.kind === "eof" ? "the end" : JSON.stringify(t.text)}`);
    at++;
    return t;
  };
  const out: Record<string, unknown> = {};
  let blocks = 0;
  while (peek().kind !== "eof") {
    const name = take("ident", "a rule name").text;
    if (peek().kind === "=") {
      at++;
      out[name] = take("string", "a quoted access level").text;
      continue;
    }
    const segment = take("string", `a quoted name after ${name}`).text;
    take("{", '"{"');
    const body: Record<string, string> = {};
    while (peek().kind !== "}") {
      const key = take("ident", "a setting name (policy, intentions)").text;
      take("=", '"="');
      body[key] = take("string", "a quoted value").text;
    }
    take("}", '"}"');
    if (++blocks > MAX_DEPTH_BLOCKS) throw new RulesError(`more than ${MAX_DEPTH_BLOCKS} rule blocks`);
    const group = (out[name] ??= {}) as Record<string, unknown>;
    if (typeof group !== "object") throw new RulesError(`${name} is both a block and a value`);
    group[segment] = body;
  }
  return out;
}
