import { describe, expect, test } from "bun:test";
import { KeyLocator, locate } from "../../core/config/locate.ts";

const TEXT = `# comment with [brackets] and = signs
top = 1

[node]
bind = "127.0.0.1" # trailing [comment]
"quoted key" = 'x'
a.b.c = 2
desc = """
multi [line]
  # not a comment
key = "not a key"
"""
lit = '''
x = 1
'''

[leader]
peers = [
  "a:1", # one
  # a comment line
  "b:2",
  [1, 2],
]
inline = { x = 1, y = { z = 2 } }

[[jobs]]
name = "one"

[[jobs]]
name = "two"

[jobs.meta]
owner = "me"

[ "plugins" . 'my.plugin' ]
key = "v"
`;

describe("KeyLocator", () => {
  const loc = new KeyLocator(TEXT);

  test("plain keys and headers", () => {
    expect(loc.exactLine(["top"])).toBe(2);
    expect(loc.exactLine(["node"])).toBe(4);
    expect(loc.exactLine(["node", "bind"])).toBe(5);
    expect(loc.exactLine(["node", "quoted key"])).toBe(6);
  });

  test("dotted keys record each level", () => {
    expect(loc.exactLine(["node", "a"])).toBe(7);
    expect(loc.exactLine(["node", "a", "b", "c"])).toBe(7);
  });

  test("multi-line strings do not produce keys and keep line counts right", () => {
    expect(loc.exactLine(["node", "desc"])).toBe(8);
    expect(loc.exactLine(["node", "key"])).toBeUndefined();
    expect(loc.exactLine(["node", "lit"])).toBe(13);
    expect(loc.exactLine(["node", "x"])).toBeUndefined();
    expect(loc.exactLine(["leader"])).toBe(17);
  });

  test("multi-line arrays: each element has its line", () => {
    expect(loc.exactLine(["leader", "peers"])).toBe(18);
    expect(loc.exactLine(["leader", "peers", 0])).toBe(19);
    expect(loc.exactLine(["leader", "peers", 1])).toBe(21);
    expect(loc.exactLine(["leader", "peers", 2])).toBe(22);
    expect(loc.exactLine(["leader", "peers", 2, 1])).toBe(22);
  });

  test("inline tables", () => {
    expect(loc.exactLine(["leader", "inline", "y", "z"])).toBe(24);
  });

  test("arrays of tables are indexed; sub-tables belong to the last element", () => {
    expect(loc.exactLine(["jobs"])).toBe(26);
    expect(loc.exactLine(["jobs", 0, "name"])).toBe(27);
    expect(loc.exactLine(["jobs", 1])).toBe(29);
    expect(loc.exactLine(["jobs", 1, "name"])).toBe(30);
    expect(loc.exactLine(["jobs", 1, "meta", "owner"])).toBe(33);
  });

  test("quoted header segments with spaces", () => {
    expect(loc.exactLine(["plugins", "my.plugin"])).toBe(35);
    expect(loc.exactLine(["plugins", "my.plugin", "key"])).toBe(36);
  });

  test("falls back to the nearest defined ancestor", () => {
    expect(loc.lineOf(["node", "missing"])).toBe(4);
    expect(loc.lineOf(["leader", "peers", 7])).toBe(18);
    expect(loc.lineOf(["nothing", "here"])).toBeUndefined();
    expect(locate("[a]\n[b]\n", ["b", "c"])).toBe(2);
  });

  test("CRLF line endings", () => {
    expect(locate("[node]\r\nbind = 1\r\nport = 2\r\n", ["node", "port"])).toBe(3);
  });

  test("garbage does not hang or throw", () => {
    const l = new KeyLocator('[[[\n= = =\n"unterminated\nx = [1, 2\ny = {a = \n');
    expect(l.entries().length).toBeGreaterThanOrEqual(0);
  });
});
