/**
 * The detection engine: a prefilter finds trigger points (digits, '@', ':', '=', '_', '-',
 * and a few literals: "AKIA", "ASIA", "AIza", "eyJ"), each with a fast native scan
 * (`indexOf`, a one-character-class regex) instead of one full regex pass per type.
 * Around each trigger a finder reads the candidate, validates it (Luhn, mod-97, 11-check,
 * numbering plans...), then context words adjust confidence, overlaps are resolved by
 * priority, values are masked and hashed, and repeats on one line are merged.
 */
import { createHash, createHmac } from "node:crypto";
import { severityRank } from "../../shared/severity.js";
import { isWordChar } from "./chars.js";
import { contextVerdict, hasContextRules, hintWords, type ContextVerdict } from "./context.js";
import { hmacFromStates, stateAfterBlock } from "./sha256.js";
import { DEFAULT_PHONE_REGIONS, scanAt, scanIPv6, scanNumberAt, type Sink } from "./patterns.js";
import { scanAssignment, scanAws, scanJwt, scanOption, scanPrivateKey, scanProsePassword, scanProviderKey, scanQuotedPair, scanShortPasswordOption, scanXmlElement } from "./secrets.js";
import { isSupportedCountry, type CountryCode } from "libphonenumber-js/max";
import { FINDING_TYPES, type Candidate, type DetectOptions, type Detection, type FindingType, type Severity } from "./types.js";

const SEVERITY: Record<FindingType, Severity> = {
  BSN: "CRITICAL",
  CREDIT_CARD: "CRITICAL",
  PRIVATE_KEY: "CRITICAL",
  IBAN: "HIGH",
  PASSWORD: "HIGH",
  AWS_ACCESS_KEY: "HIGH",
  API_KEY: "HIGH",
  JWT: "HIGH",
  EMAIL: "MEDIUM",
  PHONE_NUMBER: "MEDIUM",
  IP_ADDRESS: "LOW",
};

export function severityOf(type: FindingType): Severity {
  return SEVERITY[type];
}

/** The highest of a list, or null for an empty list. */
export function highestSeverity(list: readonly Severity[]): Severity | null {
  let best: Severity | null = null;
  for (const s of list) if (best === null || severityRank(s) > severityRank(best)) best = s;
  return best;
}

/** Where two candidates overlap, the higher priority keeps the span. */
const PRIORITY: Record<FindingType, number> = {
  PRIVATE_KEY: 100,
  JWT: 90,
  AWS_ACCESS_KEY: 85,
  API_KEY: 80,
  PASSWORD: 75,
  IBAN: 70,
  CREDIT_CARD: 60,
  EMAIL: 55,
  BSN: 50,
  PHONE_NUMBER: 40,
  IP_ADDRESS: 30,
};

/** Confidence after context: [positive, negative]; "none" keeps the finder's value. */
const CONTEXT_CONFIDENCE: Partial<Record<FindingType, readonly [number, number]>> = {
  BSN: [0.95, 0.3],
  CREDIT_CARD: [0.97, 0.45],
  PHONE_NUMBER: [0.92, 0.4],
  IP_ADDRESS: [0.9, 0.3],
};

const DIGIT_RE = /[0-9]/g;

/**
 * Numeric prefilter. Only a digit run that starts a chain of >= 8 digits or >= 4 groups
 * (separators: up to 3 of space, nbsp, . - / ( ) U+2011), or two digits glued to two ASCII
 * letters (an IBAN's "NL91"), can yield a candidate; everything else ("12 maart 2024",
 * "3.2", "€ 1.250,00") `scanNumberAt` would only skip. One native regex pass finds those
 * spots; prose numbers between them are never visited. Every alternative starts with a
 * bare `\d` (so the regex engine scans for digits natively) and only tries a run's first
 * digit (digits glued to a word are skipped by `scanNumberAt` unless they start an IBAN).
 */
const NUMERIC_TRIGGER_RE =
  /\d(?:(?<=[^0-9A-Za-z_]\d|^\d)(?=(?:[ \u00a0.\-/()\u2011]{0,3}\d){7}|(?:\d*[ \u00a0.\-/()\u2011]{1,3}\d){3})|(?<=[A-Za-z][A-Za-z]\d)(?=\d))/g;

/** Characters `scanNumberAt` may consume in one step (word chars, number separators, '@'). */
function isNumberClusterChar(c: number): boolean {
  return isWordChar(c) || c === 32 || c === 0xa0 || c === 46 || c === 45 || c === 47 || c === 40 || c === 41 || c === 0x2011 || c === 64;
}

/**
 * Exactly the digit-run walk of `scanNumberAt` (each run start decides where the next
 * begins), but only around prefilter hits. Each step of that walk consumes a contiguous
 * stretch of cluster characters, so just after a non-cluster character the walk's state
 * is known ("next digit starts a run"): from a hit we step back to there (never before
 * where the walk already is) and replay the walk until it passes the hit.
 */
function scanNumbers(text: string, sink: Sink): void {
  const len = text.length;
  const re = NUMERIC_TRIGGER_RE;
  let pos = 0;
  // In dense text (a CSV of customer rows) hits are close together and the prefilter
  // would only add work: after a short jump, walk plainly for a while.
  let plainSteps = 0;
  while (pos < len) {
    if (plainSteps > 0) {
      DIGIT_RE.lastIndex = pos;
      if (!DIGIT_RE.test(text)) return;
      pos = scanNumberAt(text, DIGIT_RE.lastIndex - 1, sink);
      plainSteps--;
      continue;
    }
    re.lastIndex = pos;
    // One-character matches (the rest is lookahead): the hit is lastIndex - 1, no match array.
    if (!re.test(text)) return;
    const hit = re.lastIndex - 1;
    let s = hit;
    if (hit - pos < DENSE_GAP) {
      s = pos;
      plainSteps = PLAIN_STEPS;
    } else {
      while (s > pos && isNumberClusterChar(text.charCodeAt(s - 1))) s--;
    }
    DIGIT_RE.lastIndex = s;
    pos = len;
    while (DIGIT_RE.test(text)) {
      const p = scanNumberAt(text, DIGIT_RE.lastIndex - 1, sink);
      DIGIT_RE.lastIndex = p;
      if (p > hit) {
        pos = p;
        break;
      }
    }
  }
}
/** [offset of "wo" in the word, the word's first letter, the word]. */
const PROSE_PASSWORD_WORDS: readonly (readonly [number, number, string])[] = [
  [4, 112, "password"],
  [4, 112, "passwort"],
  [5, 119, "wachtwoord"],
];/** Words a provider key starts with before its first '_' or '-' (see PROVIDER_RE). */
const UNDERSCORE_PREFIXES: ReadonlySet<string> = new Set([
  "sk", "rk", "ghp", "gho", "ghu", "ghs", "ghr", "github", "npm", "whsec",
  "shpat", "shpss", "shpca", "shppa", "hf", "dop", "doo", "dor", "glsa", "lin", "rubygems", "pscale",
]);
const HYPHEN_PREFIXES: ReadonlySet<string> = new Set([
  "xoxa", "xoxb", "xoxp", "xoxo", "xoxs", "xoxr", "xoxe", "xapp", "sk", "GOCSPX",
  "glpat", "gldt", "glrt", "glptt", "glsoat", "glffct", "glimt", "glagent", "gloas", "glcbt", "glft",
  "pypi", "sq0atp", "sq0csp", "xkeysib",
]);

/**
 * Is the letters-and-digits word ending at `i` (a '_' or '-') a provider prefix starting a
 * token? A cheap test before the provider regex: in prose most hyphens follow a letter.
 */
function startsProviderToken(text: string, i: number, prefixes: ReadonlySet<string>): boolean {
  let s = i;
  const min = Math.max(0, i - 8);
  while (s > min) {
    const c = text.charCodeAt(s - 1);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122))) break;
    s--;
  }
  if (i - s < 2) return false;
  // Every prefix starts with one of these: rules out most words without building a string.
  const f = text.charCodeAt(s);
  if (f !== 115 && f !== 120 && f !== 103 && f !== 71 && f !== 112 && f !== 114 && f !== 110 && f !== 119 && f !== 104 && f !== 100 && f !== 108) return false;
  if (s > 0) {
    const b = text.charCodeAt(s - 1);
    // Inside a longer word ("task_sk_live"), except Slack's "xoxe.xoxp-".
    if (isWordChar(b) || b === 45) return false;
  }
  return prefixes.has(text.slice(s, i));
}
const DENSE_GAP = 256;
const PLAIN_STEPS = 24;
const ALL_TYPES: ReadonlySet<FindingType> = new Set(FINDING_TYPES);
const NUMERIC_TYPES: readonly FindingType[] = ["BSN", "CREDIT_CARD", "PHONE_NUMBER", "IP_ADDRESS", "IBAN"];

function wantsAny(want: ReadonlySet<FindingType>, types: readonly FindingType[]): boolean {
  for (const t of types) if (want.has(t)) return true;
  return false;
}

/** Regions of `DetectOptions.phoneRegions` that libphonenumber knows, upper case, in order. */
const regionCache = new Map<string, readonly CountryCode[]>();
export function phoneRegionList(regions: readonly string[] | undefined): readonly CountryCode[] {
  if (regions === undefined) return DEFAULT_PHONE_REGIONS;
  const key = regions.join(",");
  let r = regionCache.get(key);
  if (r === undefined) {
    const list: CountryCode[] = [];
    for (const x of regions) {
      const cc = x.trim().toUpperCase();
      if (isSupportedCountry(cc) && !list.includes(cc)) list.push(cc);
    }
    r = list;
    if (regionCache.size > 64) regionCache.clear();
    regionCache.set(key, r);
  }
  return r;
}

/** Every candidate the finders report, before context, overlap and grouping. */
export function findCandidates(text: string, want: ReadonlySet<FindingType> = ALL_TYPES, phoneRegions: readonly CountryCode[] = DEFAULT_PHONE_REGIONS): Candidate[] {
  const sink: Sink = { want, out: [], phoneRegions, memo: new Map() };
  const len = text.length;

  if (wantsAny(want, NUMERIC_TYPES)) scanNumbers(text, sink);

  if (want.has("EMAIL") || want.has("PASSWORD")) {
    for (let a = text.indexOf("@"); a !== -1; ) a = text.indexOf("@", scanAt(text, a, sink));
  }

  const assignments = want.has("PASSWORD") || want.has("API_KEY");
  if (assignments || want.has("IP_ADDRESS")) {
    for (let c = text.indexOf(":"); c !== -1; ) {
      let next = c + 1;
      if (want.has("IP_ADDRESS")) {
        const e = scanIPv6(text, c, sink);
        if (e > c) {
          c = text.indexOf(":", e);
          continue;
        }
      }
      if (assignments) {
        const n = c + 1 < len ? text.charCodeAt(c + 1) : 0;
        const p = c > 0 ? text.charCodeAt(c - 1) : 0;
        // "::", "://" and "::=" are not assignments (":=" is, and "::=" is read at its '=').
        if (n !== 58 && n !== 47 && p !== 58) next = scanAssignment(text, c, n === 61 ? c + 2 : c + 1, sink);
      }
      c = text.indexOf(":", Math.max(next, c + 1));
    }
  }

  if (assignments) {
    for (let e = text.indexOf("="); e !== -1; ) {
      const p = e > 0 ? text.charCodeAt(e - 1) : 0;
      let end = e + 1;
      while (end < len && text.charCodeAt(end) === 61) end++;
      if (end < len && text.charCodeAt(end) === 62 /* => */) end++;
      let next = end;
      // "<=", ">=" compare with numbers; ":=" was read at its ':' ("::=" is read here).
      const colonAssign = p === 58 && !(e >= 2 && text.charCodeAt(e - 2) === 58);
      if (p === 33 /* != */) {
        if (end - e >= 1) next = Math.max(end, scanAssignment(text, e - 1, end, sink));
      } else if (p !== 60 && p !== 62 && !colonAssign && p !== 61) next = Math.max(end, scanAssignment(text, e, end, sink));
      e = text.indexOf("=", next);
    }
    // "name", "value" pairs (System.setProperty, put, setenv).
    for (const pair of ['",', "',"]) {
      for (let c = text.indexOf(pair); c !== -1; ) c = text.indexOf(pair, scanQuotedPair(text, c + 1, sink));
    }
    // <password>...</password>
    for (let x = text.indexOf("</"); x !== -1; ) x = text.indexOf("</", scanXmlElement(text, x, sink));
  }
  if (want.has("PASSWORD")) {
    // "my password is hunter2": found by "wo"/"WO" inside password, passwort, wachtwoord.
    // V8 finds a short needle by its first character, and "w" is rare in prose: several
    // times faster than searching the whole words.
    for (const piece of ["wo", "WO"]) {
      for (let h = text.indexOf(piece); h !== -1; ) {
        let next = h + 2;
        for (const [offset, first, word] of PROSE_PASSWORD_WORDS) {
          const w = h - offset;
          if (w < 0 || (text.charCodeAt(w) | 0x20) !== first || (w > 0 && isWordChar(text.charCodeAt(w - 1)))) continue;
          if (text.length >= w + word.length && text.slice(w, w + word.length).toLowerCase() === word) {
            next = Math.max(next, scanProsePassword(text, w + word.length, sink));
            break;
          }
        }
        h = text.indexOf(piece, next);
      }
    }
  }

  if (want.has("API_KEY")) {
    for (let u = text.indexOf("_"); u !== -1; ) {
      const p = u > 0 ? text.charCodeAt(u - 1) : 0;
      // sk_, rk_, gh?_, github_, npm_, whsec_
      const next =
        // the last letter of a prefix: sk, ghp, github, npm, whsec, shpat, hf, dop, glsa, lin, rubygems, pscale...
        (p === 107 || p === 112 || p === 111 || p === 117 || p === 115 || p === 114 || p === 98 || p === 109 || p === 99 || p === 116 || p === 102 || p === 97 || p === 110 || p === 101) &&
        startsProviderToken(text, u, UNDERSCORE_PREFIXES)
          ? scanProviderKey(text, u, sink)
          : u + 1;
      u = text.indexOf("_", next);
    }
    for (const lit of ["AIza", "ya29.", "GR1348941", "SG."]) {
      for (let a = text.indexOf(lit); a !== -1; ) a = text.indexOf(lit, Math.max(a + 1, scanProviderKey(text, a, sink)));
    }
  }

  if (assignments && !want.has("API_KEY") && !want.has("PRIVATE_KEY")) {
    for (let h = text.indexOf("--"); h !== -1; ) {
      let next = h + 2;
      while (next < len && text.charCodeAt(next) === 45) next++;
      const prev = h > 0 ? text.charCodeAt(h - 1) : 32;
      if (next === h + 2 && (prev === 32 || prev === 9 || prev === 34 || prev === 39 || prev === 10)) next = Math.max(next, scanOption(text, next, sink));
      h = text.indexOf("--", next);
    }
  } else if (want.has("API_KEY") || want.has("PRIVATE_KEY")) {
    for (let h = text.indexOf("-"); h !== -1; ) {
      let next = h + 1;
      const n = h + 1 < len ? text.charCodeAt(h + 1) : 0;
      if (n === 45) {
        if (want.has("PRIVATE_KEY") && text.startsWith("-----BEGIN ", h)) next = scanPrivateKey(text, h, sink);
        else {
          while (next < len && text.charCodeAt(next) === 45) next++;
          // "--password s3cret": a long option named like a secret.
          const prev = h > 0 ? text.charCodeAt(h - 1) : 32;
          if (assignments && next === h + 2 && (prev === 32 || prev === 9 || prev === 34 || prev === 39 || prev === 10)) next = Math.max(next, scanOption(text, next, sink));
        }
      } else if (n === 112 /* -p */ && assignments && (h === 0 || text.charCodeAt(h - 1) === 32 || text.charCodeAt(h - 1) === 9)) {
        next = scanShortPasswordOption(text, h, sink);
      } else if (want.has("API_KEY")) {
        const p = h > 0 ? text.charCodeAt(h - 1) : 0;
        // xox?-, xapp-, glpat-, sk-, GOCSPX-
        if ((p === 98 || p === 112 || p === 97 || p === 111 || p === 114 || p === 115 || p === 116 || p === 107 || p === 101 || p === 88 || p === 105) && startsProviderToken(text, h, HYPHEN_PREFIXES))
          next = scanProviderKey(text, h, sink);
      }
      h = text.indexOf("-", next);
    }
  }

  if (want.has("AWS_ACCESS_KEY")) {
    for (let a = text.indexOf("AKIA"); a !== -1; ) a = text.indexOf("AKIA", scanAws(text, a, sink));
    for (let a = text.indexOf("ASIA"); a !== -1; ) a = text.indexOf("ASIA", scanAws(text, a, sink));
  }

  if (want.has("JWT")) {
    for (let y = text.indexOf("yJ"); y !== -1; ) {
      const next = y > 0 && text.charCodeAt(y - 1) === 101 ? scanJwt(text, y - 1, sink) : y + 2;
      y = text.indexOf("yJ", Math.max(next, y + 2));
    }
  }

  return sink.out;
}

/** Keeps, among overlapping candidates, the one with the higher priority (then confidence). */
export function resolveOverlaps(cands: Candidate[]): Candidate[] {
  cands.sort((a, b) => a.start - b.start || PRIORITY[b.type] - PRIORITY[a.type] || b.end - a.end);
  const kept: Candidate[] = [];
  outer: for (const c of cands) {
    while (kept.length > 0) {
      const last = kept[kept.length - 1]!;
      if (last.end <= c.start) break;
      const lp = PRIORITY[last.type];
      const cp = PRIORITY[c.type];
      if (lp > cp || (lp === cp && last.confidence >= c.confidence)) continue outer;
      kept.pop();
    }
    // An earlier, longer span (a private key block) may still cover c.
    for (let k = kept.length - 2; k >= 0 && k >= kept.length - 4; k--) {
      if (kept[k]!.end > c.start && PRIORITY[kept[k]!.type] >= PRIORITY[c.type]) continue outer;
    }
    kept.push(c);
  }
  return kept;
}

function applyContext(c: Candidate, text: string, hint: readonly string[]): number {
  const table = CONTEXT_CONFIDENCE[c.type];
  if (!table || !hasContextRules(c.type)) return c.confidence;
  const v: ContextVerdict = contextVerdict(c.type, text, c.start, c.end, hint);
  if (v === "positive") return Math.max(c.confidence, table[0]);
  if (v === "negative") return Math.min(c.confidence, table[1]);
  return c.confidence;
}

/**
 * HMAC-SHA256 (RFC 2104) of `type:value`, hex. The keyed inner and outer states are
 * computed once per key; each value is hashed in plain JavaScript (sha256.ts), without the
 * native round trips of `createHash` copies.
 */
export function hashValue(key: Uint8Array | string, type: FindingType, value: string): string {
  return keyedHasher(key)(`${type}:${value}`);
}

/** Messages longer than this (characters) are hashed with node:crypto. */
const LONG_MESSAGE = 256;

let lastKey: string | null = null;
let lastKeyBytes: Uint8Array | null = null;
let lastHasher: ((msg: string) => string) | null = null;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function keyedHasher(key: Uint8Array | string): (msg: string) => string {
  if (lastHasher) {
    if (typeof key === "string" ? key === lastKey : lastKeyBytes !== null && sameBytes(key, lastKeyBytes)) return lastHasher;
  }
  let k = typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key);
  if (k.length > 64) k = createHash("sha256").update(k).digest();
  const block = Buffer.alloc(64);
  k.copy(block);
  const ipad = Buffer.alloc(64);
  const opad = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) {
    ipad[i] = block[i]! ^ 0x36;
    opad[i] = block[i]! ^ 0x5c;
  }
  const inner = stateAfterBlock(ipad);
  const outer = stateAfterBlock(opad);
  lastKey = typeof key === "string" ? key : null;
  lastKeyBytes = typeof key === "string" ? null : Uint8Array.from(key);
  // Long values (PEM bodies) hash faster natively, from copies of the keyed states.
  const nativeInner = createHash("sha256").update(ipad);
  const nativeOuter = createHash("sha256").update(opad);
  lastHasher = (msg: string) =>
    msg.length <= LONG_MESSAGE
      ? hmacFromStates(inner, outer, msg)
      : nativeOuter.copy().update(nativeInner.copy().update(msg, "utf8").digest()).digest("hex");
  return lastHasher;
}

/** Reference implementation, for tests: Node's HMAC. */
export function hmacHex(key: Uint8Array | string, message: string): string {
  return createHmac("sha256", key).update(message).digest("hex");
}

/**
 * Finds personal data and secrets in `text`. Synchronous and pure (no I/O); safe in
 * worker threads. Raw values never leave this function: only masked values and hashes.
 */
export function detect(text: string, options: DetectOptions): Detection[] {
  const want: ReadonlySet<FindingType> = options.types ? new Set(options.types) : ALL_TYPES;
  const min = options.minConfidence ?? 0.5;
  const hint = hintWords(options.contextHint);
  const raw = findCandidates(text, want, phoneRegionList(options.phoneRegions));
  if (raw.length === 0) return [];
  const confident: Candidate[] = [];
  for (const c of raw) {
    c.confidence = applyContext(c, text, hint);
    if (c.confidence >= min) confident.push(c);
  }
  const kept = resolveOverlaps(confident);

  const out: Detection[] = [];
  // Hashes per type and value, each computed once per call.
  const hashes = new Map<FindingType, Map<string, string>>();
  // `kept` is in text order, so lines never decrease: repeats of a value on one line are
  // looked up among this line's detections only.
  let lineFirst = 0;
  let lineMap: Map<string, Detection> | null = null;
  let line = 1;
  let nl = text.indexOf("\n");
  for (const c of kept) {
    if (nl !== -1 && nl < c.start) {
      do {
        line++;
        nl = text.indexOf("\n", nl + 1);
      } while (nl !== -1 && nl < c.start);
      lineFirst = out.length;
      lineMap = null;
    }
    let byValue = hashes.get(c.type);
    if (byValue === undefined) {
      byValue = new Map();
      hashes.set(c.type, byValue);
    }
    let h = byValue.get(c.value);
    if (h === undefined) {
      h = hashValue(options.hashKey, c.type, c.value);
      byValue.set(c.value, h);
    }
    let seen: Detection | undefined;
    if (lineMap !== null) seen = lineMap.get(h);
    else {
      for (let k = lineFirst; k < out.length; k++) {
        if (out[k]!.valueHash === h) {
          seen = out[k];
          break;
        }
      }
      // A long line (a CSV export on one line, JSON): switch to a map.
      if (seen === undefined && out.length - lineFirst >= 16) {
        lineMap = new Map();
        for (let k = lineFirst; k < out.length; k++) lineMap.set(out[k]!.valueHash, out[k]!);
      }
    }
    if (seen) {
      seen.occurrences++;
      if (c.confidence > seen.confidence) seen.confidence = c.confidence;
      continue;
    }
    const d: Detection = {
      type: c.type,
      severity: SEVERITY[c.type],
      confidence: Math.round(c.confidence * 100) / 100,
      maskedValue: c.maskedValue,
      valueHash: h,
      line,
      occurrences: 1,
    };
    lineMap?.set(h, d);
    out.push(d);
  }
  return out;
}
