/**
 * Text out of HTML and XML in linear time (issue 10): comments, scripts and styles, tags
 * and character references, each removed or decoded in one left-to-right pass.
 *
 * The output is exactly that of the regular expressions these functions replace
 * (`/<!--[\s\S]*?-->/g`, `/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi`, `/<[^>]*>/g`,
 * `/=\s*(?:"([^"]*)"|'([^']*)')/g` for attribute values, `/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi`
 * for references), but a search that fails is never repeated from the next position:
 * "no `>` after here" or "no `</script>` after here" is remembered, so 200 KB of `<`,
 * `<!--`, `<a x="` or `<script` costs one pass instead of one pass per character.
 * Every newline of the input is kept, so a line number in the text is the line in the source.
 *
 * Pure: no imports; runs in worker threads.
 */

/** Named references decoded; others stay as written. */
const ENTITIES: ReadonlyMap<string, string> = new Map([
  ["amp", "&"],
  ["lt", "<"],
  ["gt", ">"],
  ["quot", '"'],
  ["apos", "'"],
  ["nbsp", "\u00a0"],
  ["euro", "€"],
  ["copy", "©"],
]);

/** The newlines of text[from, to), nothing else. */
function newlinesIn(text: string, from: number, to: number): string {
  // A bounded loop: indexOf would run past `to` to the end of a text without newlines.
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n === 0 ? "" : "\n".repeat(n);
}

/** JavaScript's `\s`. */
function isJsSpace(c: number): boolean {
  return (
    c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/** ASCII `[A-Za-z0-9_]`: what `\b` counts as a word character. */
function isAsciiWord(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** Does text at `at` spell the lower-case ASCII `word`, in any case? */
function matchesIgnoreCase(text: string, at: number, word: string): boolean {
  if (at + word.length > text.length) return false;
  for (let k = 0; k < word.length; k++) {
    const c = text.charCodeAt(at + k);
    // Upper-case ASCII letters fold to lower case; nothing else folds.
    const lower = c >= 65 && c <= 90 ? c + 32 : c;
    if (lower !== word.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * The next index of `needle` at or after each query, for queries that never go backwards:
 * one search's answer serves every query up to it, and "none" serves all later ones.
 */
class ForwardFinder {
  private at = -2; // -2: not searched yet; -1: none after `from`
  private from = 0;
  constructor(
    private readonly text: string,
    private readonly needle: string,
  ) {}
  next(q: number): number {
    if (this.at === -1 && q >= this.from) return -1;
    if (this.at >= q) return this.at;
    this.from = q;
    this.at = this.text.indexOf(this.needle, q);
    return this.at;
  }
}

/** Removes `<!-- ... -->` comments, keeping their newlines. An unclosed `<!--` stays as text. */
export function stripComments(html: string): string {
  let p = html.indexOf("<!--");
  if (p === -1) return html;
  const parts: string[] = [];
  let copied = 0;
  while (p !== -1) {
    const close = html.indexOf("-->", p + 4);
    // No "-->" after this comment's start: none after any later one either.
    if (close === -1) break;
    parts.push(html.slice(copied, p), newlinesIn(html, p, close));
    copied = close + 3;
    p = html.indexOf("<!--", copied);
  }
  parts.push(html.slice(copied));
  return parts.join("");
}

const RAW_TEXT_ELEMENTS = ["script", "style"] as const;

/**
 * Where the first `</name\s*>` (any case) at or after a position ends, for positions that
 * never go backwards. Returns [start, end) or null.
 */
class CloseTagFinder {
  private cached: [number, number] | null = null;
  private none = false;
  private noneFrom = 0;
  constructor(
    private readonly text: string,
    private readonly name: string,
  ) {}
  next(q: number): [number, number] | null {
    if (this.none && q >= this.noneFrom) return null;
    if (this.cached !== null && this.cached[0] >= q) return this.cached;
    const text = this.text;
    // "</" positions only move forward; each is examined once per element name.
    for (let s = text.indexOf("</", q); s !== -1; s = text.indexOf("</", s + 2)) {
      if (!matchesIgnoreCase(text, s + 2, this.name)) continue;
      let e = s + 2 + this.name.length;
      while (e < text.length && isJsSpace(text.charCodeAt(e))) e++;
      if (e < text.length && text.charCodeAt(e) === 62) {
        this.cached = [s, e + 1];
        return this.cached;
      }
    }
    this.none = true;
    this.noneFrom = q;
    return null;
  }
}

/**
 * Removes `<script ...>...</script>` and `<style ...>...</style>` elements (any case),
 * keeping their newlines. An element without its end tag stays as text (its tags are
 * stripped later like any other).
 */
export function stripScriptsAndStyles(html: string): string {
  const gt = new ForwardFinder(html, ">");
  const closers = new Map<string, CloseTagFinder>();
  const parts: string[] = [];
  let copied = 0;
  let p = html.indexOf("<");
  while (p !== -1) {
    let name: string | null = null;
    // Both names start with "s": one comparison rules out every other tag.
    if ((html.charCodeAt(p + 1) | 0x20) === 115) {
      for (const n of RAW_TEXT_ELEMENTS) {
        if (matchesIgnoreCase(html, p + 1, n)) {
          const after = p + 1 + n.length;
          if (after >= html.length || !isAsciiWord(html.charCodeAt(after))) name = n;
          break;
        }
      }
    }
    if (name === null) {
      p = html.indexOf("<", p + 1);
      continue;
    }
    const openEnd = gt.next(p + 1 + name.length);
    // No ">" left: no element can open from here on.
    if (openEnd === -1) break;
    let closer = closers.get(name);
    if (closer === undefined) closers.set(name, (closer = new CloseTagFinder(html, name)));
    const close = closer.next(openEnd + 1);
    if (close === null) {
      p = html.indexOf("<", p + 1);
      continue;
    }
    parts.push(html.slice(copied, p), newlinesIn(html, p, close[1]));
    copied = close[1];
    p = html.indexOf("<", copied);
  }
  if (copied === 0) return html;
  parts.push(html.slice(copied));
  return parts.join("");
}

interface AttributeFinders {
  eq: ForwardFinder;
  dq: ForwardFinder;
  sq: ForwardFinder;
}

function findersFor(text: string): AttributeFinders {
  return { eq: new ForwardFinder(text, "="), dq: new ForwardFinder(text, '"'), sq: new ForwardFinder(text, "'") };
}

/**
 * Pushes the quoted attribute values of the tag text[from, to) onto `out`, each preceded
 * by a space. Tags are visited in order, so the finders only move forward.
 */
function pushAttributeValues(text: string, from: number, to: number, f: AttributeFinders, out: string[]): void {
  let e = f.eq.next(from);
  while (e !== -1 && e < to) {
    let j = e + 1;
    while (j < to && isJsSpace(text.charCodeAt(j))) j++;
    const q = j < to ? text.charCodeAt(j) : 0;
    if (q === 34 || q === 39) {
      const close = (q === 34 ? f.dq : f.sq).next(j + 1);
      if (close !== -1 && close < to) {
        let v = j + 1;
        if (matchesIgnoreCase(text, v, "mailto:") && v + 7 <= close) v += 7;
        else if (matchesIgnoreCase(text, v, "tel:") && v + 4 <= close) v += 4;
        out.push(out.length === 0 ? "" : " ", text.slice(v, close));
        e = f.eq.next(close + 1);
        continue;
      }
    }
    e = f.eq.next(e + 1);
  }
}

/**
 * The quoted attribute values in one tag (`="..."` or `='...'`, as
 * `/=\s*(?:"([^"]*)"|'([^']*)')/g` finds them), with a leading `mailto:` or `tel:` removed.
 */
export function attributeValues(tag: string): string[] {
  const out: string[] = [];
  pushAttributeValues(tag, 0, tag.length, findersFor(tag), out);
  return out.filter((_, i) => i % 2 === 1);
}

/**
 * Replaces every tag `<...>` by its quoted attribute values between spaces (a `mailto:`
 * link is personal data; everything else in a tag becomes a space) and its newlines.
 * A `<` with no `>` after it stays as text.
 */
export function stripTags(html: string): string {
  let p = html.indexOf("<");
  if (p === -1) return html;
  const finders = findersFor(html);
  const parts: string[] = [];
  const values: string[] = [];
  let copied = 0;
  while (p !== -1) {
    const gt = html.indexOf(">", p + 1);
    // No ">" after this "<": none after any later "<" either.
    if (gt === -1) break;
    parts.push(html.slice(copied, p), " ");
    values.length = 0;
    pushAttributeValues(html, p, gt + 1, finders, values);
    for (const v of values) parts.push(v);
    parts.push(" ", newlinesIn(html, p, gt));
    copied = gt + 1;
    p = html.indexOf("<", copied);
  }
  parts.push(html.slice(copied));
  return parts.join("");
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}
function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Decodes character references: `&#233;`, `&#xE9;` (any code point but NUL and the
 * newline, which would shift line numbers) and the names amp, lt, gt, quot, apos, nbsp,
 * euro, copy (any case). Anything else stays as written.
 */
export function decodeEntities(s: string): string {
  let p = s.indexOf("&");
  if (p === -1) return s;
  const parts: string[] = [];
  let copied = 0;
  const len = s.length;
  while (p !== -1) {
    let q = p + 1;
    let replacement: string | null = null;
    let end = -1;
    if (q < len && s.charCodeAt(q) === 35 /* # */) {
      q++;
      const hex = q < len && (s.charCodeAt(q) === 120 || s.charCodeAt(q) === 88);
      let r = hex ? q + 1 : q;
      const digitsFrom = r;
      while (r < len && (hex ? isHexDigit(s.charCodeAt(r)) : s.charCodeAt(r) >= 48 && s.charCodeAt(r) <= 57)) r++;
      if (r > digitsFrom && r < len && s.charCodeAt(r) === 59 /* ; */) {
        end = r + 1;
        const cp = hex ? parseInt(s.slice(digitsFrom, r), 16) : parseInt(s.slice(digitsFrom, r), 10);
        replacement = Number.isFinite(cp) && cp > 0 && cp < 0x110000 && cp !== 10 ? String.fromCodePoint(cp) : null;
      }
    } else {
      while (q < len && isAsciiLetter(s.charCodeAt(q))) q++;
      if (q > p + 1 && q < len && s.charCodeAt(q) === 59) {
        end = q + 1;
        replacement = ENTITIES.get(s.slice(p + 1, q).toLowerCase()) ?? null;
      }
    }
    if (end === -1) {
      p = s.indexOf("&", p + 1);
      continue;
    }
    if (replacement !== null) {
      parts.push(s.slice(copied, p), replacement);
      copied = end;
    }
    p = s.indexOf("&", end);
  }
  if (copied === 0) return s;
  parts.push(s.slice(copied));
  return parts.join("");
}

/**
 * Text of an HTML document: comments, scripts and styles removed, tags replaced by their
 * quoted attribute values, references decoded; every newline kept.
 */
export function htmlToText(html: string): string {
  return decodeEntities(stripTags(stripScriptsAndStyles(stripComments(html))));
}

/** Text of an XML document (DOCX parts, SVG, feeds): comments and tags removed, references decoded. */
export function xmlToText(xml: string): string {
  return decodeEntities(stripTags(stripComments(xml)));
}
