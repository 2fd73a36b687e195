import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  attributeValues,
  decodeEntities,
  htmlToText,
  stripComments,
  stripScriptsAndStyles,
  stripTags,
  xmlToText,
} from "../../../src/modules/scans/scanners/markup.js";
import { expectLinear } from "../detection/linear-time.js";

/** The regular expressions markup.ts replaces (quadratic on hostile input), as the reference. */
const REF_ENTITIES = new Map(Object.entries({ amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", euro: "€", copy: "©" }));
function refDecodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === "#") {
      const cp = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp < 0x110000 && cp !== 10 ? String.fromCodePoint(cp) : m;
    }
    return REF_ENTITIES.get(e.toLowerCase()) ?? m;
  });
}
function refHtmlToText(html: string): string {
  const keepNewlines = (s: string): string => s.replace(/[^\n]/g, "");
  let out = html.replace(/<!--[\s\S]*?-->/g, keepNewlines);
  out = out.replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, keepNewlines);
  out = out.replace(/<[^>]*>/g, (tag) => {
    const values: string[] = [];
    for (const m of tag.matchAll(/=\s*(?:"([^"]*)"|'([^']*)')/g)) values.push((m[1] ?? m[2] ?? "").replace(/^mailto:|^tel:/i, ""));
    return ` ${values.join(" ")} ${keepNewlines(tag)}`;
  });
  return refDecodeEntities(out);
}

describe("markup: same text as the regular expressions it replaces", () => {
  it.each([
    ["plain text", "plain text"],
    ["<p>Hallo <b>Jan</b></p>", "  Hallo   Jan    "],
    ['<a href="mailto:jan@example.com">mail</a>', " jan@example.com mail  "],
    ["<a href='tel:+31612345678'>bel</a>", " +31612345678 bel  "],
    ["a<!-- x\ny -->b", "a\nb"],
    ["a<!-->b-->c", "ac"],
    ["<script>var x = '<b>';\n</script >after", "\nafter"],
    ["<STYLE type=\"x\">p{}</style>x", "x"],
    ["<scripts>x</scripts>", "  x  "],
    ["<script>never closed", "<script>never closed".replace("<script>", "  ")],
    ["&lt;b&gt; &amp;amp; &#233; &#xE9; &#10; &#0; &bogus; &nbsp;", "<b> &amp; é é &#10; &#0; &bogus; \u00a0"],
    ["a < b and c > d", "a    d"],
    ["<a x=\"1\" y = '2' z=3>", " 1 2 "],
    ["<<<", "<<<"],
    ["<!--<!--<!--", "<!--<!--<!--"],
  ])("%j", (html, text) => {
    expect(htmlToText(html)).toBe(text);
    expect(htmlToText(html)).toBe(refHtmlToText(html));
  });

  it("equals the reference on random markup (property)", () => {
    const pieces = ["<", ">", "<!--", "-->", "<script", "</script", "<STYLE", "</style", " ", "\n", "=", '"', "'", "a", "&", "#", "x", "1", ";", "amp", "lt", "mailto:", "/", "-", "\t", "é"];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 60 }), (arr) => {
        const html = arr.join("");
        expect(htmlToText(html)).toBe(refHtmlToText(html));
        expect(decodeEntities(html)).toBe(refDecodeEntities(html));
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps every newline (line numbers stay those of the source)", () => {
    const html = "<div\nclass='a'>x</div>\n<!--\n\n-->\n<script>\n</script>\n&lt;\n";
    expect(htmlToText(html).split("\n").length).toBe(html.split("\n").length);
  });

  it("attributeValues reads quoted values only, in order", () => {
    expect(attributeValues(`<a href="x" data-a='y' b=z c = "mailto:q@r.nl">`)).toEqual(["x", "y", "q@r.nl"]);
    expect(attributeValues(`<a x=" y='1'>`)).toEqual(["1"]);
  });

  it("xmlToText strips tags and decodes the XML references", () => {
    expect(xmlToText("<w:t>Jan &amp; Piet</w:t><!-- c --><w:t>&#x40;</w:t>")).toBe("  Jan & Piet    @  ");
  });
});

describe("markup: linear time on hostile input (ratio of doubled input < 3)", () => {
  it.each([
    ["<", (n: number) => "<".repeat(n)],
    ["<!--", (n: number) => "<!--".repeat(n)],
    ['<a x="', (n: number) => '<a x="'.repeat(n)],
    ["<script", (n: number) => "<script ".repeat(n)],
    ["<script>", (n: number) => "<script>".repeat(n)],
    ["</script without >", (n: number) => "<script>" + "</script ".repeat(n)],
    ["<style>..</script>", (n: number) => "<style>x</script>".repeat(n) + ">"],
    ["tag with = and quotes", (n: number) => "<a" + ` x="y' z='`.repeat(n) + ">"],
    ["tag with ==", (n: number) => "<a" + "= ".repeat(n) + ">"],
    ["&", (n: number) => "&".repeat(n)],
    ["&#x digits", (n: number) => "&#x" + "f".repeat(n)],
    ["&# digits", (n: number) => "&#" + "1".repeat(n)],
    ["&letters", (n: number) => "&" + "a".repeat(n)],
    ["&#1&#1", (n: number) => "&#1".repeat(n)],
    ["newlines in tags", (n: number) => "<a\n".repeat(n) + ">"],
  ])("htmlToText: %s", (_name, make) => {
    expectLinear(htmlToText, make);
  });

  it.each([
    ["stripComments", stripComments, "<!--"],
    ["stripScriptsAndStyles", stripScriptsAndStyles, "<script>"],
    ["stripTags", stripTags, '<a x="'],
    ["decodeEntities", decodeEntities, "&#x1"],
    ["xmlToText", xmlToText, "<w:t"],
  ] as const)("%s", (_name, fn, unit) => {
    expectLinear(fn, (n) => unit.repeat(n) + ">");
  });
});
