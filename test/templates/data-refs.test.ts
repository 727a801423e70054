// prepareTemplateData (core/templates/data-refs.ts), pure: where `${...}`
// is a reference in a template, and that it becomes a bound Liquid
// variable, never text Liquid parses.
import { describe, expect, test } from "bun:test";
import { prepareTemplateData } from "../../core/templates/data-refs.ts";

describe("prepareTemplateData", () => {
  test("references in the text become variables, in order; the rest is kept as written", () => {
    const p = prepareTemplateData("a=${CORRAL_PORT_http} {{ env.X }} b=${meta.rack}");
    expect(p).toEqual({ ok: true, liquid: "a={{ __corral_ref_0 }} {{ env.X }} b={{ __corral_ref_1 }}", refs: ["CORRAL_PORT_http", "meta.rack"] });
  });

  test("$${ is a literal ${; a lone $ is literal; raw blocks are left alone", () => {
    expect(prepareTemplateData("echo $${HOME} $5")).toEqual({ ok: true, liquid: "echo ${HOME} $5", refs: [] });
    expect(prepareTemplateData("{% raw %}${x} {{ y }}{% endraw %}${z}")).toEqual({ ok: true, liquid: "{% raw %}${x} {{ y }}{% endraw %}{{ __corral_ref_0 }}", refs: ["z"] });
    expect(prepareTemplateData("{%- raw -%}${x}{%- endraw -%}")).toMatchObject({ ok: true, refs: [] });
  });

  test("a reference inside {{ }} or {% %} is refused, as are malformed ones", () => {
    for (const data of ['{{ "a/${X}" | key }}', "{% if a == '${X}' %}{% endif %}", "{{- ${X} -}}"]) {
      const p = prepareTemplateData(data);
      expect(p.ok).toBe(false);
      if (!p.ok) expect(p.error).toContain("inside Liquid markup");
    }
    expect(prepareTemplateData("{{ '$${X}' }}")).toEqual({ ok: true, liquid: "{{ '${X}' }}", refs: [] }); // escaped: a literal "${"
    for (const [data, words] of [["x ${X", "unterminated"], ["${}", "empty"], ["${a${b}}", "nested"], ["${a b}", "not a variable name"]]) {
      const p = prepareTemplateData(data!);
      expect(p.ok).toBe(false);
      if (!p.ok) expect(p.error).toContain(words!);
    }
  });

  test("the position in an error counts from the template's start", () => {
    const p = prepareTemplateData("{{ a }} x ${");
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error).toContain("character 11");
  });
});
