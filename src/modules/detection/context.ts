/**
 * Context words (Dutch and English) near a candidate raise or lower its confidence.
 * A keyword ending in "*" matches as a prefix (Dutch compounds: "ordernummer",
 * "factuurnummer"); others match whole words only ("bel" must not match "belasting").
 * The nearest keyword to the value decides; with none in the window, words of
 * `contextHint` (e.g. a column name) decide.
 */
import type { FindingType } from "./types.js";

export type ContextVerdict = "positive" | "negative" | "none";

const NEGATIVE_NUMBER = [
  "order*", "bestel*", "factuur*", "invoice*", "tracking*", "track", "trace*", "zending*", "pakket*", "parcel*", "shipment*",
  "versie*", "version*", "release*", "build*", "referentie*", "reference*", "ref", "kenmerk*", "artikel*", "article*", "sku",
  "ean", "isbn*", "kvk*", "btw*", "vat", "klantnummer*", "klantnr", "transactie*", "transaction*", "bon", "bonnummer", "receipt*",
  "ticket*", "serial*", "serienummer*", "batch*", "lot", "barcode*", "postcode*", "dossier*", "zaaknummer*",
  "bedrag*", "amount*", "totaal", "total", "prijs", "price", "eur", "euro", "usd", "iban", "rekening*",
];

const POSITIVE: Record<string, readonly string[]> = {
  BSN: ["bsn*", "burgerservice*", "sofi*", "social", "citizen", "persoonsnummer*", "fiscaal", "fiscal", "nationaal", "national"],
  CREDIT_CARD: [
    "card*", "creditcard*", "credit", "kaart*", "kaartnummer*", "visa", "mastercard*", "amex", "american", "maestro", "pan",
    "betaalkaart*", "debit*", "cc", "ccnum*", "discover", "diners", "jcb",
  ],
  PHONE_NUMBER: [
    "tel", "telefoon*", "telnr", "phone*", "telephone*", "mobiel*", "mobile*", "gsm", "bel", "bellen", "belt", "call*", "fax*",
    "whatsapp", "sms", "cell*", "contact*", "bereikbaar", "reachable",
  ],
  IP_ADDRESS: ["ip", "ips", "ipv4", "ipv6", "ipadres*", "ipaddress*", "host*", "server*", "client*", "remote*", "forwarded*", "gateway*", "router*", "subnet*", "dns", "login*", "ingelogd", "addr", "adres", "address", "src", "dst", "source", "origin", "peer"],
};

const NEGATIVE: Record<string, readonly string[]> = {
  BSN: NEGATIVE_NUMBER,
  CREDIT_CARD: NEGATIVE_NUMBER,
  PHONE_NUMBER: [...NEGATIVE_NUMBER, "card*", "kaart*", "creditcard*", "visa", "mastercard*", "amex", "bsn*", "burgerservice*", "sofi*"],
  IP_ADDRESS: [
    "version*", "versie*", "release*", "build*", "ver", "oid", "section*", "sectie*", "paragraaf*", "paragraph*",
    "hoofdstuk*", "chapter*", "artikel*", "article*", "figure*", "figuur*", "tabel*", "table", "step", "stap", "clause*", "lid",
  ],
};

interface KeywordTable {
  exact: Map<string, ContextVerdict>;
  prefixes: { stem: string; verdict: ContextVerdict }[];
  /** `prefixes` by first character, in the same (longest-first) order. */
  byFirst: Map<string, { stem: string; verdict: ContextVerdict }[]>;
  /** Verdicts of whole tokens seen before (words repeat; bounded). */
  tokens: Map<string, ContextVerdict>;
}

function buildTable(pos: readonly string[], neg: readonly string[]): KeywordTable {
  const t: KeywordTable = { exact: new Map(), prefixes: [], byFirst: new Map(), tokens: new Map() };
  const add = (w: string, verdict: ContextVerdict): void => {
    if (w.endsWith("*")) t.prefixes.push({ stem: w.slice(0, -1), verdict });
    else t.exact.set(w, verdict);
  };
  for (const w of neg) add(w, "negative");
  for (const w of pos) add(w, "positive"); // positive wins where lists overlap
  // Longer stems first so "kaartnummer" is tried before "kaart".
  t.prefixes.sort((a, b) => b.stem.length - a.stem.length);
  for (const p of t.prefixes) {
    const k = p.stem.slice(0, 1);
    let list = t.byFirst.get(k);
    if (!list) t.byFirst.set(k, (list = []));
    list.push(p);
  }
  return t;
}

const TABLES = new Map<FindingType, KeywordTable>();
for (const type of ["BSN", "CREDIT_CARD", "PHONE_NUMBER", "IP_ADDRESS"] as const) {
  TABLES.set(type, buildTable(POSITIVE[type] ?? [], NEGATIVE[type] ?? []));
}

export function hasContextRules(type: FindingType): boolean {
  return TABLES.has(type);
}

function classify(table: KeywordTable, word: string): ContextVerdict {
  const e = table.exact.get(word);
  if (e !== undefined) return e;
  if (word.length === 0) {
    for (const p of table.prefixes) if (word.startsWith(p.stem)) return p.verdict;
    return "none";
  }
  const list = table.byFirst.get(word[0]!);
  if (list !== undefined) for (const p of list) if (word.startsWith(p.stem)) return p.verdict;
  return "none";
}

/** Words of a hint: `customer_bsn`, `customerBsn`, `Customer BSN` → ["customer","bsn"]. */
export function hintWords(hint: string | undefined): string[] {
  if (!hint) return [];
  return hint
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z\u00e0-\u00ff0-9]+/)
    .filter((w) => w.length > 0);
}

/** Alphanumeric runs of the original text; tokens holding digits are values, not words. */
const TOKEN = /[A-Za-z0-9\u00c0-\u024f_]+/g;
const INTERVENING_VALUE = /\d{3}|@/;
const SENTENCE_END = /[.;!?]\s/;
/** Another label ("Voor vragen: ") between a keyword and the value. */
const OTHER_LABEL = /[A-Za-z\u00c0-\u024f)]\s*:\s/;

/** How many characters before / after the value are read for context words. */
export const CONTEXT_BEFORE = 48;
export const CONTEXT_AFTER = 24;

const HAS_DIGIT = /\d/;
const NEEDS_SPLIT = /_|[a-z][A-Z]/;

function tokenVerdict(table: KeywordTable, token: string): ContextVerdict {
  // Values themselves ("123456782", "06") and long runs: "none" without hashing the
  // token or filling the cache with them (tokenVerdictUncached answers the same).
  const first = token.charCodeAt(0);
  if (token.length > 32 || (first >= 48 && first <= 57)) return "none";
  let v = table.tokens.get(token);
  if (v === undefined) {
    v = tokenVerdictUncached(table, token);
    if (table.tokens.size >= 50_000) table.tokens.clear();
    table.tokens.set(token, v);
  }
  return v;
}

function tokenVerdictUncached(table: KeywordTable, token: string): ContextVerdict {
  if (token.length > 32 || HAS_DIGIT.test(token)) return "none";
  if (!NEEDS_SPLIT.test(token)) return classify(table, token.toLowerCase());
  let verdict: ContextVerdict = "none";
  for (const part of token.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase().split("_")) {
    if (part.length === 0) continue;
    const v = classify(table, part);
    if (v === "positive") return v;
    if (v === "negative") verdict = v;
  }
  return verdict;
}

/**
 * The verdict of the nearest keyword around text[start, end), else of the hint words.
 */
export function contextVerdict(type: FindingType, text: string, start: number, end: number, hint: readonly string[]): ContextVerdict {
  const table = TABLES.get(type);
  if (!table) return "none";
  const from = Math.max(0, start - CONTEXT_BEFORE);
  const to = Math.min(text.length, end + CONTEXT_AFTER);
  let best: ContextVerdict = "none";
  let bestDist = Infinity;
  const before = text.slice(from, start);
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(before); m; m = TOKEN.exec(before)) {
    // A word cut by the window edge is not a word.
    if (m.index === 0 && from > 0 && isWordCode(text.charCodeAt(from - 1))) continue;
    const v = tokenVerdict(table, m[0]);
    if (v === "none") continue;
    const between = before.slice(m.index + m[0].length);
    const crossesLine = between.indexOf("\n") !== -1;
    // Labels may sit on the line above ("BSN:\n123456782"); a negative word there
    // belongs to another value (lists, tables), so only positives cross a line break.
    if (crossesLine && v === "negative") continue;
    // A keyword with another value or another label between it and ours labels that other value.
    if (INTERVENING_VALUE.test(between) || OTHER_LABEL.test(between.replace(/^\s*:/, ""))) continue;
    if (v === "negative" && SENTENCE_END.test(between)) continue;
    const dist = between.length + (crossesLine ? 40 : 0);
    if (dist <= bestDist) {
      best = v;
      bestDist = dist;
    }
  }
  const after = text.slice(end, to);
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(after); m; m = TOKEN.exec(after)) {
    if (m.index + m[0].length === after.length && to < text.length && isWordCode(text.charCodeAt(to))) break;
    const gap = after.slice(0, m.index);
    if (gap.indexOf("\n") !== -1 || INTERVENING_VALUE.test(gap)) break;
    const v = tokenVerdict(table, m[0]);
    // Labels precede values; a negative word after a value labels the next one
    // ("bel 06-12345678, IBAN NL91..."), while "123456782 (BSN)" is a postfix label.
    if (v !== "positive") continue;
    const dist = m.index + 2;
    if (dist < bestDist) {
      best = v;
      bestDist = dist;
    }
    break;
  }
  if (best !== "none") return best;
  for (const w of hint) {
    const v = classify(table, w);
    if (v !== "none") return v;
  }
  return "none";
}

function isWordCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (c >= 0xc0 && c <= 0x24f);
}
