// ?filter= expressions (plugins/discovery/filter.ts), no processes: every
// operator on every kind of field, precedence, quoting and escapes, maps,
// lists of objects (any-element semantics), absent fields and keys, errors
// with their positions, the limits, and the element types against the views.
import { beforeAll, describe, expect, test } from "bun:test";
import {
  compileFilter, FilterError, loadRegexEngine, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_FILTER_REGEXES, parseFilter, prepareFilter, T, type FieldType,
} from "../../plugins/discovery/filter.ts";
import {
  agentServiceView, catalogServiceView, FilterTypes, healthCheckView, localCheckView, nodeView, serviceNodeView,
} from "../../plugins/discovery/views.ts";
import type { CatalogCheck, CatalogNode, CatalogService } from "../../core/state/domains/catalog-read.ts";

const Check = T.struct({ CheckID: T.string, Status: T.string, ServiceTags: T.slice(T.string), Definition: T.map(T.any) });
const Entry = T.struct({
  Name: T.string, Port: T.int, Ratio: T.float, On: T.bool,
  Tags: T.slice(T.string), Ports: T.slice(T.int), Meta: T.map(T.string),
  Node: T.struct({ Node: T.string, Meta: T.map(T.string) }),
  Addrs: T.map(T.struct({ Address: T.string, Port: T.int })),
  Checks: T.slice(Check),
});

const entry = {
  Name: "web-1", Port: 8080, Ratio: 0.5, On: true,
  Tags: ["primary", "v2"], Ports: [80, 443], Meta: { env: "prod", "app-name": "shop", empty: "" },
  Node: { Node: "node-a", Meta: { rack: "r1" } },
  Addrs: { lan: { Address: "10.0.0.1", Port: 80 } },
  Checks: [
    { CheckID: "serfHealth", Status: "passing", ServiceTags: [], Definition: {} },
    { CheckID: "service:web-1", Status: "critical", ServiceTags: ["primary"], Definition: { HTTP: "http://x/health", TLSSkipVerify: true, Header: { A: ["1", "2"] } } },
  ],
};

// The HTTP layer uses prepareFilter, which loads the regex engine on demand; compileFilter is the sync core.
beforeAll(loadRegexEngine);

const run = (expr: string, el: unknown = entry, type: FieldType = Entry) => compileFilter(expr, type).matches(el);
function error(expr: string, type: FieldType = Entry): FilterError {
  try {
    compileFilter(expr, type);
  } catch (err) {
    expect(err).toBeInstanceOf(FilterError);
    return err as FilterError;
  }
  throw new Error(`no error for ${expr}`);
}

describe("operators", () => {
  test("prepareFilter: the async entry point (loads the regex engine when a `matches` needs it)", async () => {
    expect((await prepareFilter(`Name matches "^web"`, Entry)).matches(entry)).toBe(true);
    expect((await prepareFilter(`Port == 8080`, Entry)).matches(entry)).toBe(true);
    expect(await prepareFilter(`Nope == 1`, Entry).catch((e) => e)).toBeInstanceOf(FilterError);
  });

  test("== and != on strings, whole numbers, floats and booleans (the value coerced to the field's type)", () => {
    expect(run(`Name == "web-1"`)).toBe(true);
    expect(run(`Name != "web-1"`)).toBe(false);
    expect(run(`Name == "web-2"`)).toBe(false);
    expect(run(`Port == 8080`)).toBe(true);
    expect(run(`Port == "8080"`)).toBe(true);
    expect(run(`Port != 8081`)).toBe(true);
    expect(run(`Port == "0x1F90"`)).toBe(true); // Go's ParseInt base 0
    expect(run(`Ratio == 0.5`)).toBe(true);
    expect(run(`On == true`)).toBe(true);
    expect(run(`On == "T"`)).toBe(true);
    expect(run(`On != false`)).toBe(true);
    expect(run(`On == 0`)).toBe(false);
  });

  test("is empty / is not empty on strings, lists and maps", () => {
    expect(run(`Name is not empty`)).toBe(true);
    expect(run(`Name is empty`)).toBe(false);
    expect(run(`Meta.empty is empty`)).toBe(true);
    expect(run(`Tags is not empty`)).toBe(true);
    expect(run(`Tags is empty`, { ...entry, Tags: [] })).toBe(true);
    expect(run(`Meta is empty`, { ...entry, Meta: {} })).toBe(true);
    expect(run(`Node.Meta is not empty`)).toBe(true);
    expect(run(`Checks is not empty`)).toBe(true);
  });

  test("in / contains: membership in a list, a key of a map, a substring of a string", () => {
    expect(run(`"primary" in Tags`)).toBe(true);
    expect(run(`Tags contains "v2"`)).toBe(true);
    expect(run(`Tags contains "v3"`)).toBe(false);
    expect(run(`"v3" not in Tags`)).toBe(true);
    expect(run(`Tags not contains "primary"`)).toBe(false);
    expect(run(`443 in Ports`)).toBe(true); // coerced to the element type
    expect(run(`Ports contains 22`)).toBe(false);
    expect(run(`"env" in Meta`)).toBe(true);
    expect(run(`Meta contains "prod"`)).toBe(false); // keys, not values
    expect(run(`Meta not contains "zone"`)).toBe(true);
    expect(run(`"eb-" in Name`)).toBe(true);
    expect(run(`Name contains "web"`)).toBe(true);
    expect(run(`Name not contains "db"`)).toBe(true);
    expect(run(`primary in Tags`)).toBe(true); // a bare word as the value
    expect(run(`primary not in Tags`)).toBe(false);
  });

  test("matches / not matches: Go (RE2) regexes, unanchored", () => {
    expect(run(`Name matches "^web-[0-9]+$"`)).toBe(true);
    expect(run(`Name matches "eb"`)).toBe(true);
    expect(run(`Name not matches "^db"`)).toBe(true);
    expect(run(`Name matches "(?i)WEB"`)).toBe(true);
    expect(run(`Node.Node matches \`^node-\\w$\``)).toBe(true);
    expect(run(`Meta.env matches "^p"`)).toBe(true);
  });
});

describe("combining", () => {
  test("precedence: not > and > or, left to right, parentheses override", () => {
    // true or (false and false) = true; (true or false) and false = false
    expect(run(`Port == 8080 or Port == 1 and Port == 2`)).toBe(true);
    expect(run(`(Port == 8080 or Port == 1) and Port == 2`)).toBe(false);
    // (not true) and true = false; not (true and false)... = true
    expect(run(`not Port == 8080 and Name == "web-1"`)).toBe(false);
    expect(run(`not (Port == 8080 and Name == "x")`)).toBe(true);
    expect(run(`not not Port == 8080`)).toBe(true);
    expect(run(`Port == 1 or Port == 2 or Port == 8080`)).toBe(true);
    expect(run(`Port == 8080 and Name == "web-1" and On == true`)).toBe(true);
    expect(run(`((Port == 8080))`)).toBe(true);
    expect(run(`not(Port == 1)`)).toBe(true);
  });

  test("the tree groups as documented", () => {
    const ast = parseFilter(`a == 1 and not b == 2 or c == 3`);
    expect(ast.type).toBe("or");
    if (ast.type !== "or") return;
    expect(ast.left.type).toBe("and");
    if (ast.left.type === "and") expect(ast.left.right.type).toBe("not");
    expect(ast.right.type).toBe("match");
  });

  test("whitespace is free between tokens, including newlines and tabs", () => {
    expect(run(`\n\tPort==8080\tand\n"v2" in Tags  `)).toBe(true);
  });
});

describe("values: quoting, escapes, numbers, bare words", () => {
  const named = (Name: string) => ({ ...entry, Name });
  test("double quotes take Go's escapes", () => {
    expect(run(`Name == "a\\nb"`, named("a\nb"))).toBe(true);
    expect(run(`Name == "tab\\there"`, named("tab\there"))).toBe(true);
    expect(run(`Name == "say \\"hi\\""`, named(`say "hi"`))).toBe(true);
    expect(run(`Name == "back\\\\slash"`, named("back\\slash"))).toBe(true);
    expect(run(`Name == "\\x41\\101\\u00e9\\U0001F600"`, named("AAé😀"))).toBe(true);
  });

  test("backticks are raw: no escapes", () => {
    expect(run("Name == `a\\nb`", named("a\\nb"))).toBe(true);
    expect(run("Name == `with \"quotes\"`", named('with "quotes"'))).toBe(true);
  });

  test("numbers and bare words are values too", () => {
    expect(run(`Name == 42`, named("42"))).toBe(true);
    expect(run(`Name == -1.5`, named("-1.5"))).toBe(true);
    expect(run(`Name == passing`, named("passing"))).toBe(true);
    expect(run(`Name == foo.bar`, named("foo.bar"))).toBe(true);
    expect(run(`Port == -1`, { ...entry, Port: -1 })).toBe(true);
  });

  test("bad strings and numbers are errors at their position", () => {
    expect(error(`Name == "abc`).message).toBe("1:9 (8): unterminated string literal");
    expect(error("Name == `abc").problem).toBe("unterminated string literal");
    expect(error(`Name == "a\\qb"`).offset).toBe(10);
    expect(error(`Name == "a\\qb"`).problem).toContain("invalid escape sequence");
    expect(error(`Name == "\\u12"`).problem).toContain("invalid escape");
    expect(error(`Name == 12abc`).problem).toBe("invalid number literal");
    expect(error(`Port == 1.5`).problem).toBe(`"Port" is a whole number; "1.5" is not`);
    expect(error(`On == yes`).problem).toContain(`"On" is a boolean`);
    expect(error(`Port == web`).column).toBe(9);
  });
});

describe("selectors", () => {
  test("maps: .key and [\"key\"] (any key, quoted ones may hold anything)", () => {
    expect(run(`Meta.env == prod`)).toBe(true);
    expect(run(`Meta["env"] == prod`)).toBe(true);
    expect(run(`Meta[ "app-name" ] == shop`)).toBe(true);
    expect(run("Meta[`app-name`] == shop")).toBe(true);
    expect(run(`Node.Meta.rack == r1`)).toBe(true);
    expect(run(`Addrs.lan.Port == 80`)).toBe(true);
    expect(run(`Addrs["lan"].Address == "10.0.0.1"`)).toBe(true);
  });

  test("an absent map key is empty; ==, contains, matches fail and their negations hold", () => {
    expect(run(`Meta.zone == ""`)).toBe(false);
    expect(run(`Meta.zone == eu`)).toBe(false);
    expect(run(`Meta.zone != eu`)).toBe(true);
    expect(run(`Meta.zone is empty`)).toBe(true);
    expect(run(`Meta.zone is not empty`)).toBe(false);
    expect(run(`Meta.zone contains "e"`)).toBe(false);
    expect(run(`Meta.zone not contains "e"`)).toBe(true);
    expect(run(`Meta.zone matches ".*"`)).toBe(false);
    expect(run(`Meta.zone not matches "x"`)).toBe(true);
    expect(run(`Addrs.wan.Port == 80`)).toBe(false);
    expect(run(`Addrs.wan.Port != 80`)).toBe(true);
  });

  test("an absent field reads as its zero value", () => {
    const bare = { Checks: [] };
    expect(run(`Name == ""`, bare)).toBe(true);
    expect(run(`Name is empty`, bare)).toBe(true);
    expect(run(`Port == 0`, bare)).toBe(true);
    expect(run(`On == false`, bare)).toBe(true);
    expect(run(`Tags is empty`, bare)).toBe(true);
    expect(run(`"x" in Tags`, bare)).toBe(false);
    expect(run(`Node.Meta.rack == r1`, bare)).toBe(false);
    expect(run(`Node.Meta.rack != r1`, bare)).toBe(true);
  });

  test("a selector through a list of objects matches when any element does (negations too)", () => {
    expect(run(`Checks.Status == critical`)).toBe(true);
    expect(run(`Checks.Status == warning`)).toBe(false);
    expect(run(`Checks.Status != passing`)).toBe(true); // one check is not passing
    expect(run(`not Checks.Status == critical`)).toBe(false); // none critical
    expect(run(`Checks.CheckID == serfHealth and Checks.Status == critical`)).toBe(true); // separate matches
    expect(run(`"primary" in Checks.ServiceTags`)).toBe(true);
    expect(run(`Checks.ServiceTags is empty`)).toBe(true); // serfHealth's
    expect(run(`Checks.Definition.HTTP matches "/health$"`)).toBe(true);
    expect(run(`Checks.Definition.TLSSkipVerify == true`)).toBe(true);
    expect(run(`Checks.Definition.Header.A contains "2"`)).toBe(true);
    expect(run(`Checks.Definition.Missing is empty`)).toBe(true);
    // An empty list never matches, whatever the operator.
    const none = { ...entry, Checks: [] };
    expect(run(`Checks.Status == passing`, none)).toBe(false);
    expect(run(`Checks.Status != passing`, none)).toBe(false);
    expect(run(`Checks.Status is empty`, none)).toBe(false);
    expect(run(`Checks is empty`, none)).toBe(true);
  });

  test("unknown selectors and operators a type has no meaning for are errors at the selector", () => {
    let e = error(`Nmae == x`);
    expect(e.problem).toStartWith(`unknown selector "Nmae": the element has Name, Port`);
    expect([e.line, e.column, e.offset]).toEqual([1, 1, 0]);
    e = error(`Port == 1 and Node.Nod == x`);
    expect(e.problem).toBe(`unknown selector "Node.Nod": "Node" has Node, Meta`);
    expect(e.offset).toBe(19);
    expect(error(`node.meta.rack == r1`).problem).toBe(`unknown selector "node" (did you mean "Node"?)`);
    expect(error(`Checks.Stat == x`).problem).toContain(`unknown selector "Checks.Stat"`);
    expect(error(`Name.First == x`).problem).toContain("is a string and has no fields");
    expect(error(`Tags.First == x`).problem).toContain("is a list and has no fields");
    expect(error(`Tags == x`).problem).toBe(`operator "==" is not supported on "Tags", which is a list (use "contains", "in" or "is empty")`);
    expect(error(`Meta == x`).problem).toContain(`which is a map`);
    expect(error(`Node == x`).problem).toContain(`which is an object (select one of its fields)`);
    expect(error(`Port contains 1`).problem).toContain(`not supported on "Port", which is a number`);
    expect(error(`Port is empty`).problem).toContain(`not supported on "Port"`);
    expect(error(`On matches "t"`).problem).toContain(`not supported on "On", which is a boolean`);
    expect(error(`Checks contains x`).problem).toBe(`operator "contains" is not supported on "Checks", which is a list of objects (select a field of its elements: Checks.CheckID)`);
    expect(error(`"x" in Ports`).problem).toBe(`"Ports" is a whole number; "x" is not`);
  });
});

describe("syntax errors name the problem and the position", () => {
  const cases: [string, number, string][] = [
    [`Name ==`, 7, `expected a value`],
    [`Name = "x"`, 5, `expected an operator after the selector "Name"`],
    [`Name`, 4, `expected an operator after the selector "Name"`],
    [`(Name == x`, 0, `unmatched "("`],
    [`Name == x)`, 9, `unmatched ")"`],
    [`Name == x Port == 1`, 10, `unexpected "Port": expected "and", "or" or the end of the expression`],
    [`Name == x and`, 13, `unexpected end of expression`],
    [`"x" Tags`, 4, `expected "in" or "not in" after the value "x"`],
    [`Name is full`, 8, `expected "empty" or "not empty" after "is"`],
    [`Name not equals x`, 9, `expected "contains", "matches" or "in" after "not"`],
    [`Meta["x" == y`, 9, `unclosed index expression`],
    [`Meta[x] == y`, 5, `invalid index: expected a quoted map key`],
    [`Meta. == y`, 5, `expected a field name after "."`],
    [`== x`, 0, `unexpected "== x"`],
    [`Name matches "(a"`, 13, `invalid regular expression "(a": missing closing )`],
    [`Name matches "(?=x)"`, 13, `invalid or unsupported Perl syntax`],
    ["Name matches `\\1`", 13, `invalid regular expression`],
    [`Name matches "\\1"`, 14, `invalid octal escape in string`],
  ];
  for (const [expr, offset, problem] of cases) {
    test(expr, () => {
      const e = error(expr);
      expect(e.problem).toContain(problem);
      expect(e.offset).toBe(offset);
      expect(e.message).toBe(`${e.line}:${e.column} (${e.offset}): ${e.problem}`);
    });
  }

  test("line and column count from 1 across newlines", () => {
    const e = error(`Name == x\n  and Nope == y`);
    expect([e.line, e.column, e.offset]).toEqual([2, 7, 16]);
  });

  test("an empty expression is an error (the HTTP layer treats ?filter= as absent)", () => {
    expect(error(`   `).problem).toBe("empty filter expression");
  });
});

describe("limits", () => {
  test(`expressions longer than ${MAX_FILTER_LENGTH} characters are refused`, () => {
    const long = `Name == "${"x".repeat(MAX_FILTER_LENGTH)}"`;
    expect(error(long).problem).toContain(`longer than ${MAX_FILTER_LENGTH}`);
    const ok = Array.from({ length: 150 }, (_, i) => `Port == ${i}`).join(" or ");
    expect(ok.length).toBeLessThan(MAX_FILTER_LENGTH);
    expect(run(ok)).toBe(false);
  });

  test(`nesting deeper than ${MAX_FILTER_DEPTH} is refused, not a stack overflow`, () => {
    const deep = "(".repeat(2000) + "Port == 1" + ")".repeat(2000);
    expect(error(deep).problem).toContain("nested more than");
    expect(error("not ".repeat(1000) + "Port == 1").problem).toContain("nested more than");
    expect(run("(".repeat(MAX_FILTER_DEPTH - 1) + "Port == 8080" + ")".repeat(MAX_FILTER_DEPTH - 1))).toBe(true);
  });

  test("catastrophic-backtracking patterns run in linear time (RE2 semantics)", () => {
    const evil = { ...entry, Name: "a".repeat(100_000) + "!" };
    const t0 = performance.now();
    expect(run(`Name matches "^(a+)+$"`, evil)).toBe(false);
    expect(run(`Name matches "(a|aa)*b"`, evil)).toBe(false);
    expect(run(`Name matches ".*.*.*.*.*=x"`, evil)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  test(`at most ${MAX_FILTER_REGEXES} regexes per expression`, () => {
    const many = (n: number) => Array.from({ length: n }, () => `Name matches "x"`).join(" or ");
    expect(run(many(MAX_FILTER_REGEXES))).toBe(false);
    const e = error(many(MAX_FILTER_REGEXES + 1));
    expect(e.problem).toBe(`more than ${MAX_FILTER_REGEXES} regular expressions`);
    expect(e.offset).toBe(MAX_FILTER_REGEXES * 20);
  });

  test("huge repetitions and programs are refused when the filter is compiled", () => {
    expect(error(`Name matches "a{1001}"`).problem).toContain("invalid regular expression");
    expect(error(`Name matches "(?:a?){1000}a{1000}"`).problem).toMatch(/too complex \(\d+ instructions compiled, at most 500\)/);
    expect(run(`Name matches "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"`)).toBe(false);
  });

  test("select: regex time over one list is budgeted; past it, an error instead of a held event loop", () => {
    // ~5 ms per element without a budget: 2.5 s for the list.
    const list = Array.from({ length: 500 }, () => ({ ...entry, Name: "a".repeat(4000) }));
    const f = compileFilter(`Name matches "(?:a?){100}a{100}[^a]"`, Entry, { regexBudgetMs: 5 });
    const t0 = performance.now();
    expect(() => f.select(list)).toThrow(/filter too expensive: its regular expressions ran for more than 5 ms/);
    expect(performance.now() - t0).toBeLessThan(500);
    // A cheap one goes through the whole list; matches() (one element) has no budget.
    const numbered = list.map((e, i) => ({ ...e, Name: e.Name + i }));
    expect(compileFilter(`Name matches "9$"`, Entry).select(numbered).length).toBe(50);
    expect(f.matches(list[0])).toBe(false);
  });
});

describe("the element types match the views they filter", () => {
  /** Every key of `v` is in `t` with a matching kind, and every struct field of `t` is in `v`. */
  function conforms(v: unknown, t: FieldType, path = "$"): void {
    switch (t.kind) {
      case "string": return void expect([path, typeof v]).toEqual([path, "string"]);
      case "int": case "float": return void expect([path, typeof v]).toEqual([path, "number"]);
      case "bool": return void expect([path, typeof v]).toEqual([path, "boolean"]);
      case "any": return;
      case "slice":
        expect([path, Array.isArray(v)]).toEqual([path, true]);
        return (v as unknown[]).forEach((e, i) => conforms(e, t.elem, `${path}[${i}]`));
      case "map":
        expect([path, typeof v]).toEqual([path, "object"]);
        return Object.entries(v as object).forEach(([k, e]) => conforms(e, t.value, `${path}.${k}`));
      case "struct": {
        // Kind: a selector Consul has whose JSON field is omitted when empty (it reads as "").
        const fields = Object.keys(t.fields).filter((k) => !(k === "Kind" && !Object.hasOwn(v as object, k)));
        expect([path, Object.keys(v as object).sort()]).toEqual([path, fields.sort()]);
        return fields.forEach((k) => conforms((v as Record<string, unknown>)[k], t.fields[k]!, `${path}.${k}`));
      }
    }
  }
  const node: CatalogNode = {
    id: "n1", name: "node-a", address: "10.0.0.1", port: 7700, datacenter: "dc1", meta: { rack: "r1" }, status: "ready", createIndex: 1, modifyIndex: 2,
  };
  const svc: CatalogService = {
    nodeId: "n1", serviceId: "web-1", name: "web", tags: ["a"], address: "", port: 80, meta: { env: "prod" },
    weights: { passing: 1, warning: 1 }, taggedAddresses: { lan: { address: "10.0.0.1", port: 80 } }, enableTagOverride: false,
    createIndex: 3, modifyIndex: 4,
  };
  const check: CatalogCheck = {
    nodeId: "n1", checkId: "c", name: "c", status: "passing", notes: "", output: "", serviceId: "web-1", type: "http",
    definition: { HTTP: "http://x" }, createIndex: 5, modifyIndex: 6, nodeName: "node-a", serviceName: "web", serviceTags: ["a"],
  };
  const def = { id: "web-1", name: "web", tags: ["a"], address: "", port: 80, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {}, enableTagOverride: false };

  test("catalog/nodes, catalog/service, catalog/node services, health/service, checks, agent views", () => {
    conforms(nodeView(node), FilterTypes.node);
    conforms(serviceNodeView(node, svc), FilterTypes.serviceNode);
    conforms(catalogServiceView(svc), FilterTypes.catalogService);
    conforms(healthCheckView(check), FilterTypes.healthCheck);
    conforms({ Node: nodeView(node), Service: catalogServiceView(svc), Checks: [healthCheckView(check)] }, FilterTypes.serviceEntry);
    conforms(agentServiceView(def, "dc1"), FilterTypes.agentService);
    conforms(localCheckView({ spec: { id: "c", name: "c", serviceId: "", notes: "", type: "ttl", status: "passing", definition: {} }, status: "passing", output: "" }, "node-a", undefined), FilterTypes.healthCheck);
  });

  test("Service.Kind, which Consul omits from the JSON when empty, reads as \"\"", () => {
    const e = { Node: nodeView(node), Service: catalogServiceView(svc), Checks: [healthCheckView(check)] };
    expect(compileFilter(`Service.Kind != "connect-proxy"`, FilterTypes.serviceEntry).matches(e)).toBe(true);
    expect(compileFilter(`Service.Kind is empty`, FilterTypes.serviceEntry).matches(e)).toBe(true);
    expect(compileFilter(`Kind == ""`, FilterTypes.agentService).matches(agentServiceView(def, "dc1"))).toBe(true);
  });

  test("a filter on real views", () => {
    const sn = serviceNodeView(node, svc);
    expect(compileFilter(`ServiceMeta.env == prod and NodeMeta.rack == r1 and "a" in ServiceTags`, FilterTypes.serviceNode).matches(sn)).toBe(true);
    expect(compileFilter(`ServiceTaggedAddresses.lan.Port == 80 and ServiceWeights.Passing == 1`, FilterTypes.serviceNode).matches(sn)).toBe(true);
    const e = { Node: nodeView(node), Service: catalogServiceView(svc), Checks: [healthCheckView(check)] };
    expect(compileFilter(`Service.Meta.env == prod and Checks.Status == passing and Node.TaggedAddresses.lan == "10.0.0.1"`, FilterTypes.serviceEntry).matches(e)).toBe(true);
  });
});

describe("robustness", () => {
  test("random and mutated expressions: each compiles or fails with a FilterError, and evaluation never throws (seeded)", () => {
    const tokens = [
      "Name", "Port", "Tags", "Meta", "Meta.env", `Meta["app-name"]`, "Checks.Status", "Checks.Definition.HTTP", "Node.Meta.rack", "Nope", "Addrs.lan.Port",
      "==", "!=", "is", "not", "empty", "in", "contains", "matches", "and", "or", "(", ")", "[", "]", ".", `"x"`, "`y`", `"a\\"b"`, `"\\q"`,
      "8080", "-1", "1.5", "true", "prod", `"^w.*"`, `"(a"`, `"`, "`", "\\", "\n", " ", "=", "!", "ü", "\u0000",
    ];
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const pick = <E>(a: E[]) => a[rand(a.length)]!;
    const soup = () => Array.from({ length: 1 + rand(12) }, () => pick(tokens)).join(rand(3) ? " " : "");
    const sels = ["Name", "Meta.env", `Meta["app-name"]`, "Checks.Status", "Checks.Definition.HTTP", "Node.Meta.rack", "Tags", "Port", "On"];
    const vals = [`"x"`, "`y`", "prod", "8080", "true", `"^w.*"`, `"web-1"`, "passing"];
    const match = () => {
      const s = pick(sels), v = pick(vals);
      return pick([`${s} == ${v}`, `${s} != ${v}`, `${s} is empty`, `${s} is not empty`, `${v} in ${s}`, `${v} not in ${s}`,
        `${s} contains ${v}`, `${s} not contains ${v}`, `${s} matches ${v}`, `${s} not matches ${v}`]);
    };
    const sentence = (d: number): string =>
      d === 0 || rand(3) === 0 ? match() : pick([
        () => `${sentence(d - 1)} and ${sentence(d - 1)}`, () => `${sentence(d - 1)} or ${sentence(d - 1)}`,
        () => `not ${sentence(d - 1)}`, () => `(${sentence(d - 1)})`,
      ])();
    /** Half the time unchanged; else a character dropped, doubled or replaced. */
    const mutate = (x: string) => {
      if (rand(2)) return x;
      const at = rand(x.length + 1);
      return pick([() => x.slice(0, at) + x.slice(at + 1), () => x.slice(0, at) + x[at] + x.slice(at), () => x.slice(0, at) + pick(tokens) + x.slice(at + 1)])();
    };
    let compiled = 0;
    for (let i = 0; i < 5000; i++) {
      const expr = rand(2) ? soup() : mutate(sentence(3));
      let f;
      try {
        f = compileFilter(expr, Entry);
      } catch (err) {
        if (!(err instanceof FilterError)) throw new Error(`${JSON.stringify(expr)}: ${err}`);
        expect(err.offset).toBeGreaterThanOrEqual(0);
        expect(err.offset).toBeLessThanOrEqual(expr.length);
        continue;
      }
      compiled++;
      for (const el of [entry, {}, { Checks: [{}], Meta: null }, null, "str", [entry]]) f.matches(el);
    }
    expect(compiled).toBeGreaterThan(200); // most fail the type check (Port == prod, Tags == x)
  });
});
