/**
 * Candidate finders for personal data. Each is driven by the engine's prefilter (a digit,
 * an '@', a ':') and reads only the text around its trigger.
 */
import { isAsciiLetter, isDigit, isHex, isSpace, isWordChar } from "./chars.js";
import { maskBsn, maskCreditCard, maskEmail, maskIban, maskIp, maskPassword, maskPhone } from "./masking.js";
import type { Candidate, FindingType } from "./types.js";
import { getCountrySpecifications } from "ibantools";
import { getCountryCallingCode, type CountryCode } from "libphonenumber-js/max";
import { isPlaceholderSecret } from "./secrets.js";
import {
  isNonPublicIp,
  isValidBsn,
  isValidCreditCard,
  isValidEmail,
  isValidIban,
  isValidIPv4,
  isValidIPv6,
  normaliseIban,
  normalisePhone,
} from "./validators.js";

export interface Sink {
  want: ReadonlySet<FindingType>;
  out: Candidate[];
  /** Regions tried, in order, for phone numbers written without a country code. */
  phoneRegions: readonly CountryCode[];
  /** Per-call answers of forward-only searches (see secrets.ts `nextIndexOf`). */
  memo: Map<string, { from: number; at: number }>;
}

/** @default regions for numbers without a country code (DETECTION_PHONE_REGIONS). */
export const DEFAULT_PHONE_REGIONS: readonly CountryCode[] = ["NL", "BE", "DE", "GB", "FR", "US"];

// ---------------------------------------------------------------- numbers

interface Group {
  start: number;
  end: number;
}

/** Separators allowed between digit groups of one number: space, nbsp, . - / ( ). */
function isNumSep(c: number): boolean {
  return c === 32 || c === 0xa0 || c === 46 || c === 45 || c === 47 || c === 40 || c === 41 || c === 0x2011;
}

const MAX_GROUPS = 16;

/**
 * Handles the digit at `i` (the first of its run) and returns where scanning resumes.
 * A "region" is digit groups joined by short separators: `+31 (0)6 1234 5678`,
 * `4111-1111-1111-1111`, `1234.56.782`, `10.0.0.1`. Candidates are windows of groups.
 */
export function scanNumberAt(text: string, i: number, sink: Sink): number {
  const len = text.length;
  const prev = i > 0 ? text.charCodeAt(i - 1) : 0;
  if (isWordChar(prev)) {
    // Digits glued to a word: only an IBAN (`NL91ABNA...`, `NL91 ABNA ...`) starts this way.
    if (
      i >= 2 &&
      isAsciiLetter(prev) &&
      isAsciiLetter(text.charCodeAt(i - 2)) &&
      (i < 3 || !isWordChar(text.charCodeAt(i - 3))) &&
      sink.want.has("IBAN")
    ) {
      const end = scanIban(text, i - 2, sink);
      if (end !== -1) return Math.abs(end);
    }
    let j = i + 1;
    while (j < len && isWordChar(text.charCodeAt(j))) j++;
    return j;
  }
  // Part of a decimal or a longer dotted number we already passed ("3,5", "1.2.3.4.5").
  if ((prev === 44 || prev === 46) && i >= 2 && isDigit(text.charCodeAt(i - 2))) {
    let j = i + 1;
    while (j < len && isDigit(text.charCodeAt(j))) j++;
    return j;
  }
  let regionStart = i;
  let plus = false;
  if (prev === 43 /* + */ && (i < 2 || !isWordChar(text.charCodeAt(i - 2)))) {
    regionStart = i - 1;
    plus = true;
  } else if (prev === 40 /* ( */) {
    regionStart = i - 1;
  }

  // Cheap first pass without allocation: most numbers in prose ("12 maart 2024", "3.2",
  // "€ 1.250,00") are too short to be anything. An IPv4 needs 4 groups, the shortest
  // phone 8 digits.
  {
    let q = i;
    let digits = 0;
    let nGroups = 0;
    for (;;) {
      while (q < len && isDigit(text.charCodeAt(q))) {
        q++;
        digits++;
      }
      nGroups++;
      let j = q;
      while (j < len && j - q < 3 && isNumSep(text.charCodeAt(j))) j++;
      if (j === q || j >= len || !isDigit(text.charCodeAt(j)) || nGroups >= MAX_GROUPS) break;
      q = j;
    }
    if (digits < 8 && nGroups < 4) {
      while (q < len && isWordChar(text.charCodeAt(q))) q++;
      return q;
    }
  }

  const groups: Group[] = [];
  const seps: string[] = [];
  let pos = i;
  for (;;) {
    const gs = pos;
    while (pos < len && isDigit(text.charCodeAt(pos))) pos++;
    groups.push({ start: gs, end: pos });
    if (groups.length >= MAX_GROUPS) break;
    let j = pos;
    while (j < len && j - pos < 3 && isNumSep(text.charCodeAt(j))) j++;
    if (j === pos || j >= len || !isDigit(text.charCodeAt(j))) break;
    // A sentence end followed by a number is not one number ("... 12. 34").
    const sep = text.slice(pos, j);
    if (sep.length > 1 && sep.includes(".") ) break;
    seps.push(sep);
    pos = j;
  }
  let regionEnd = pos;
  const after = regionEnd < len ? text.charCodeAt(regionEnd) : 0;
  // "10.0.0.1@eth0": an address before '@' stays an address.
  const ipBeforeAt =
    after === 64 && groups.length >= 4 && seps[seps.length - 1] === "." && seps[seps.length - 2] === "." && seps[seps.length - 3] === "." &&
    isValidIPv4(text.slice(groups[groups.length - 4]!.start, regionEnd));
  if (ipBeforeAt) {
    let j = regionEnd + 1;
    while (j < len && isWordChar(text.charCodeAt(j))) j++;
    evaluateRegion(text, groups, seps, plus, regionStart, sink);
    return j;
  }
  if (isWordChar(after) || after === 64 /* @ */) {
    // The last group is glued to a word ("12abc", "06123@x"): drop it.
    groups.pop();
    seps.pop();
    let j = regionEnd;
    while (j < len && (isWordChar(text.charCodeAt(j)) || text.charCodeAt(j) === 64)) j++;
    regionEnd = j;
  }
  if (groups.length > 0) evaluateRegion(text, groups, seps, plus, regionStart, sink);
  return regionEnd;
}

function digitCount(text: string, groups: Group[], a: number, b: number): number {
  let n = 0;
  for (let k = a; k <= b; k++) n += groups[k]!.end - groups[k]!.start;
  return n;
}

function joinDigits(text: string, groups: Group[], a: number, b: number): string {
  let s = "";
  for (let k = a; k <= b; k++) s += text.slice(groups[k]!.start, groups[k]!.end);
  return s;
}

function isCardSep(s: string): boolean {
  return s === " " || s === "-" || s === "\u00a0";
}

function groupLen(groups: Group[], k: number): number {
  return groups[k]!.end - groups[k]!.start;
}

/**
 * The last group of the longest valid card starting at group `a`, or -1. `afterCard`: the
 * group before `a` ends an accepted card (two cards on one line are not one number).
 */
function cardWindowFrom(text: string, groups: Group[], seps: string[], a: number, afterCard: boolean, depth = 0): number {
  const n = groups.length;
  let sep: string | null = null;
  let digits = 0;
  let found = -1;
  for (let b = a; b < n; b++) {
    const glen = groupLen(groups, b);
    if (b > a) {
      const s = seps[b - 1]!;
      if (!isCardSep(s)) break;
      if (sep === null) sep = s;
      else if (s !== sep) break;
      if (glen < 3 || groupLen(groups, a) < 3) break;
    }
    digits += glen;
    if (digits > 19) break;
    if (digits < 12 || !isValidCreditCard(joinDigits(text, groups, a, b))) continue;
    if (a === b) {
      // One unbroken run of 12-19 digits is a whole token; neighbours are other values.
      found = b;
      continue;
    }
    const leftJoined = !afterCard && a > 0 && seps[a - 1] === sep && groupLen(groups, a - 1) >= 3;
    const rightJoined = b < n - 1 && seps[b] === sep && groupLen(groups, b + 1) >= 3 && !isCardCompanion(text, groups, seps, b + 1, sep!, depth);
    if (!leftJoined && !rightJoined) found = b;
  }
  return found;
}

/** Group k (joined to a card by `sep`) starts a CVV, an expiry (MMYY) or another card. */
function isCardCompanion(text: string, groups: Group[], seps: string[], k: number, sep: string, depth: number): boolean {
  const n = groups.length;
  const len = groupLen(groups, k);
  const last = k === n - 1 || seps[k] !== sep;
  if (len === 3 && last) return true; // CVV
  if (len === 4) {
    const mm = Number(text.slice(groups[k]!.start, groups[k]!.start + 2));
    const expiry = mm >= 1 && mm <= 12;
    if (expiry && (last || (groupLen(groups, k + 1) === 3 && (k + 1 === n - 1 || seps[k + 1] !== sep)))) return true;
  }
  return depth < 2 && cardWindowFrom(text, groups, seps, k, true, depth + 1) >= 0;
}

function evaluateRegion(text: string, groups: Group[], seps: string[], plus: boolean, regionStart: number, sink: Sink): void {
  const n = groups.length;
  const want = sink.want;

  // IPv4: exactly four groups joined by single dots (a fifth makes it a version string).
  if (want.has("IP_ADDRESS")) {
    let a = 0;
    while (a < n) {
      let b = a;
      while (b < n - 1 && seps[b] === ".") b++;
      if (b - a === 3) {
        const s = text.slice(groups[a]!.start, groups[b]!.end);
        if (isValidIPv4(s)) {
          const before = groups[a]!.start > 0 ? text.charCodeAt(groups[a]!.start - 1) : 0;
          if (before !== 46 && before !== 45) {
            sink.out.push({
              type: "IP_ADDRESS",
              start: groups[a]!.start,
              end: groups[b]!.end,
              value: s,
              maskedValue: maskIp(s),
              confidence: isNonPublicIp(s) ? 0.65 : 0.8,
            });
          }
        }
      }
      a = b + 1;
    }
  }

  // Cards: 12-19 digits (ISO/IEC 7812), one group or groups of >= 3 digits with one
  // repeated separator. A window inside a longer run of groups joined the same way is part
  // of another number, unless what joins it is a card's companion: another card, a CVV,
  // an expiry (MMYY).
  if (want.has("CREDIT_CARD")) {
    let lastCardEnd = -1;
    for (let a = 0; a < n; a++) {
      const found = cardWindowFrom(text, groups, seps, a, lastCardEnd === a - 1);
      if (found < 0) continue;
      const d = joinDigits(text, groups, a, found);
      sink.out.push({
        type: "CREDIT_CARD",
        start: groups[a]!.start,
        end: groups[found]!.end,
        value: d,
        maskedValue: maskCreditCard(d),
        // 12 digits (Maestro only) need card words nearby; 13, 14 and 19 are rarer than 15-16.
        // UATP (15 digits from "1") shares its shape with IMEIs and other identifiers.
        confidence: d.length === 12 ? 0.45 : d.charCodeAt(0) === 49 ? 0.55 : d.length === 15 || d.length === 16 ? 0.85 : 0.7,
      });
      lastCardEnd = found;
      a = found;
    }
  }

  // BSN: 9 digits as one group, 4-2-3 or 3-3-3 with one separator.
  if (want.has("BSN")) {
    for (let a = 0; a < n; a++) {
      const g = groups[a]!;
      const glen = g.end - g.start;
      let b = -1;
      if (glen === 9) b = a;
      else if (a + 2 < n && seps[a] === seps[a + 1] && (seps[a] === " " || seps[a] === "." || seps[a] === "-")) {
        const l2 = groups[a + 1]!.end - groups[a + 1]!.start;
        const l3 = groups[a + 2]!.end - groups[a + 2]!.start;
        if ((glen === 4 && l2 === 2 && l3 === 3) || (glen === 3 && l2 === 3 && l3 === 3)) b = a + 2;
        // Three groups out of a longer dotted number (an IPv4 address, a version) are not a BSN.
        if (b > a && ((a > 0 && seps[a - 1] === seps[a]) || (b < n - 1 && seps[b] === seps[a]))) b = -1;
      }
      if (b < 0) continue;
      // Not the tail of a dashed/dotted number, nor the head of a decimal.
      if (b === a && ((a > 0 && (seps[a - 1] === "." || seps[a - 1] === "-")) || (a < n - 1 && seps[a] === "."))) continue;
      const d = joinDigits(text, groups, a, b);
      if (!isValidBsn(d)) continue;
      sink.out.push({
        type: "BSN",
        start: groups[a]!.start,
        end: groups[b]!.end,
        value: d,
        maskedValue: maskBsn(d),
        confidence: 0.6,
      });
      a = b;
    }
  }

  // Phones: start at "+", "00", a trunk "0" (national numbers of the configured regions),
  // or a NANP-formatted "(415) 555-2671"; longest window that libphonenumber validates.
  if (want.has("PHONE_NUMBER")) {
    const nanp = sink.phoneRegions.includes("US") || sink.phoneRegions.includes("CA");
    for (let a = 0; a < n; a++) {
      const g = groups[a]!;
      const first = text.charCodeAt(g.start);
      const isPlus = a === 0 && plus;
      // Tightly joined to a number on its left ("3656-058779-4823"): part of that number.
      if (a > 0 && seps[a - 1]!.length === 1) continue;
      if (!isPlus && first !== 48) {
        if (nanp && first !== 48) {
          const e = scanNanp(text, groups, seps, a, regionStart, sink);
          if (e >= 0) a = e;
        }
        continue;
      }
      const intl = isPlus || text.startsWith("00", g.start);
      const minD = isPlus ? 8 : intl ? 10 : 9;
      const maxD = isPlus ? 16 : intl ? 17 : 12;
      let done = -1;
      let order: readonly CountryCode[] | null = null;
      const lastB = Math.min(n - 1, a + 7);
      for (let b = lastB; b >= a; b--) {
        const d = digitCount(text, groups, a, b);
        if (d > maxD || d < minD) continue;
        // Dotted quads belong to IPv4.
        let allDots = b > a;
        for (let k = a; k < b; k++) if (seps[k] !== ".") allDots = false;
        if (allDots && b - a === 3) continue;
        // "078-05-1120": a US social security number's shape, not a phone's.
        if (!intl && b === a + 2 && seps[a] === "-" && seps[a + 1] === "-" && groupLen(groups, a) === 3 && groupLen(groups, a + 1) === 2 && groupLen(groups, a + 2) === 4) continue;
        const start = isPlus ? regionStart : a === 0 && regionStart < g.start ? regionStart : g.start;
        const raw = text.slice(start, groups[b]!.end);
        let e164: string | null = null;
        if (intl) e164 = normalisePhone(raw);
        else {
          order ??= regionOrder(text, start, sink);
          for (const region of order) {
            // A libphonenumber parse costs tens of microseconds: only plans where this many
            // digits (trunk 0 included) can be a number.
            if (!nationalLengthFits(region, d)) continue;
            if ((e164 = normalisePhone(raw, region)) !== null) break;
          }
        }
        if (!e164) continue;
        sink.out.push({
          type: "PHONE_NUMBER",
          start,
          end: groups[b]!.end,
          value: e164,
          maskedValue: maskPhone(e164),
          confidence: intl ? 0.8 : d === 10 || d === 11 ? 0.7 : 0.6,
        });
        done = b;
        break;
      }
      if (done >= 0) a = done;
    }
  }
}

/**
 * North American numbers without "+1": only in their own format, 3-3-4 digits
 * ("(415) 555-2671", "415-555-2671", "415.555.2671", "1-415-555-2671"), since a bare run of
 * ten digits is as likely an order number. Returns the last group used, or -1.
 */
function scanNanp(text: string, groups: Group[], seps: string[], a: number, regionStart: number, sink: Sink): number {
  const n = groups.length;
  let k = a;
  if (groupLen(groups, k) === 1 && text.charCodeAt(groups[k]!.start) === 49 && k + 3 < n) k++;
  if (k + 2 >= n || groupLen(groups, k) !== 3 || groupLen(groups, k + 1) !== 3 || groupLen(groups, k + 2) !== 4) return -1;
  // Not the middle of a longer grouped number.
  if (k + 3 < n && seps[k + 2]!.length === 1) return -1;
  const s1 = seps[k]!;
  const s2 = seps[k + 1]!;
  // "(415) 555-2671", "1 (800) 555-0199": the area code in parentheses.
  const open = k > a ? seps[k - 1]!.endsWith("(") : a === 0 && regionStart < groups[a]!.start && text.charCodeAt(regionStart) === 40;
  const paren = open && (s1 === ")" || s1 === ") ") && (s2 === "-" || s2 === " " || s2 === ".");
  if (!paren && !(s1 === s2 && (s1 === "-" || s1 === "." || s1 === " "))) return -1;
  const start = k > a || !paren ? groups[a]!.start : regionStart;
  const raw = text.slice(start, groups[k + 2]!.end);
  for (const region of ["US", "CA"] as const) {
    if (!sink.phoneRegions.includes(region)) continue;
    const e164 = normalisePhone(raw, region);
    if (e164 === null) continue;
    sink.out.push({ type: "PHONE_NUMBER", start, end: groups[k + 2]!.end, value: e164, maskedValue: maskPhone(e164), confidence: 0.65 });
    return k + 2;
  }
  return -1;
}

/** Digits of national numbers with their trunk 0 (ITU-T numbering plans as published). */
const NATIONAL_LENGTHS: Partial<Record<CountryCode, readonly [number, number]>> = {
  NL: [10, 10],
  BE: [9, 10],
  FR: [10, 10],
  GB: [10, 11],
  DE: [6, 13],
  LU: [6, 12],
  AT: [5, 14],
  CH: [10, 10],
  ES: [9, 9],
  IT: [6, 12],
  IE: [8, 11],
  PT: [9, 9],
};
function nationalLengthFits(region: CountryCode, digits: number): boolean {
  const r = NATIONAL_LENGTHS[region];
  return r === undefined || (digits >= r[0] && digits <= r[1]);
}

/** Country names (English and native) that say which numbering plan a number belongs to. */
const COUNTRY_WORDS: readonly (readonly [RegExp, CountryCode])[] = [
  [/\b(?:nederland|netherlands|holland|dutch)\b/i, "NL"],
  [/\b(?:belgi[eë]|belgium|belgique|belgian)\b/i, "BE"],
  [/\b(?:deutschland|germany|duitsland|german)\b/i, "DE"],
  [/\b(?:united kingdom|uk|england|engeland|britain|british|scotland|wales)\b/i, "GB"],
  [/\b(?:france|frankrijk|french)\b/i, "FR"],
  [/\b(?:usa|u\.s\.a?|united states|america|amerika)\b/i, "US"],
  [/\b(?:canada)\b/i, "CA"],
  [/\b(?:luxembourg|luxemburg)\b/i, "LU"],
  [/\b(?:spain|espa[ñn]a|spanje)\b/i, "ES"],
  [/\b(?:italy|italia|itali[eë])\b/i, "IT"],
  [/\b(?:austria|[öo]sterreich|oostenrijk)\b/i, "AT"],
  [/\b(?:switzerland|schweiz|suisse|zwitserland)\b/i, "CH"],
  [/\b(?:ireland|ierland|irish)\b/i, "IE"],
  [/\b(?:portugal)\b/i, "PT"],
  [/\b(?:poland|polska|polen)\b/i, "PL"],
  [/\b(?:sweden|sverige|zweden)\b/i, "SE"],
  [/\b(?:norway|norge|noorwegen)\b/i, "NO"],
  [/\b(?:denmark|danmark|denemarken)\b/i, "DK"],
  [/\b(?:finland|suomi)\b/i, "FI"],
  [/\b(?:israel|israeli)\b/i, "IL"],
  [/\b(?:india|indian)\b/i, "IN"],
  [/\b(?:australia|australi[eë]|australian)\b/i, "AU"],
  [/\b(?:japan|japanese)\b/i, "JP"],
  [/\b(?:brazil|brasil|brazili[eë])\b/i, "BR"],
  [/\b(?:mexico|m[eé]xico)\b/i, "MX"],
  [/\b(?:turkey|t[uü]rkiye|turkije)\b/i, "TR"],
  [/\b(?:morocco|marokko|maroc)\b/i, "MA"],
  [/\b(?:suriname)\b/i, "SR"],
];

/** All of COUNTRY_WORDS in one pass; the matching group says which. */
const COUNTRY_RE = new RegExp(COUNTRY_WORDS.map(([re]) => `(${re.source})`).join("|"), "i");

const CALLING_CODES = new Map<CountryCode, string>();
function callingCode(region: CountryCode): string {
  let c = CALLING_CODES.get(region);
  if (c === undefined) {
    try {
      c = getCountryCallingCode(region);
    } catch {
      c = "";
    }
    CALLING_CODES.set(region, c);
  }
  return c;
}

/**
 * Regions to try for a national number at `pos`: a country named on its line, else the
 * country of a "+CC" number on the line, then the configured regions in order.
 */
function regionOrder(text: string, pos: number, sink: Sink): readonly CountryCode[] {
  const regions = sink.phoneRegions;
  if (regions.length === 0) return regions;
  let ls = pos;
  const lmin = Math.max(0, pos - 160);
  while (ls > lmin && text.charCodeAt(ls - 1) !== 10) ls--;
  let le = pos;
  const lmax = Math.min(text.length, pos + 160);
  while (le < lmax && text.charCodeAt(le) !== 10) le++;
  const line = text.slice(ls, le);
  let hinted: CountryCode | null = null;
  const m = COUNTRY_RE.exec(line);
  if (m) {
    for (let gi = 1; gi < m.length; gi++) {
      if (m[gi] !== undefined) {
        hinted = COUNTRY_WORDS[gi - 1]![1];
        break;
      }
    }
  }
  if (hinted === null) {
    for (let p = line.indexOf("+"); p !== -1 && hinted === null; p = line.indexOf("+", p + 1)) {
      for (const r of regions) {
        const cc = callingCode(r);
        // Calling codes are prefix-free (ITU-T E.164): the first match is the country.
        if (cc !== "" && line.startsWith(cc, p + 1)) {
          hinted = r;
          break;
        }
      }
    }
  }
  if (hinted === null || regions[0] === hinted) return regions;
  return [hinted, ...regions.filter((r) => r !== hinted)];
}

// ---------------------------------------------------------------- IBAN

/** IBAN length per country (ibantools' registry). */
const IBAN_LENGTH: ReadonlyMap<string, number> = new Map(
  Object.entries(getCountrySpecifications())
    .filter(([, spec]) => spec.chars !== undefined && spec.chars !== null && spec.chars > 0)
    .map(([cc, spec]) => [cc, spec.chars as number]),
);

function isIbanSep(c: number): boolean {
  return c === 32 || c === 0xa0 || c === 45 || c === 46;
}

/**
 * IBAN starting at `s` (two letters then two check digits), read to its country's length:
 * electronic (`NL91ABNA0417164300`), in groups of four (`NL91 ABNA 0417 1643 00`), or
 * grouped otherwise with one kind of separator (`NL91.ABNA.0417.1643.00`,
 * `NL91 ABNA 041716 4300`). Returns the end; -end for an IBAN-shaped run that fails
 * validation (to be skipped); -1 for nothing IBAN-like.
 */
export function scanIban(text: string, s: number, sink: Sink): number {
  const len = text.length;
  if (!isDigit(text.charCodeAt(s + 2)) || !isDigit(text.charCodeAt(s + 3))) return -1;
  const cc = text.slice(s, s + 2).toUpperCase();
  const want = IBAN_LENGTH.get(cc);
  if (want === undefined) return -1;
  const max = Math.min(len, s + 2 * want);
  let raw = "";
  let p = s;
  let sep = -1;
  while (p < max && raw.length < want) {
    const c = text.charCodeAt(p);
    if (isDigit(c) || isAsciiLetter(c)) {
      raw += text[p];
      p++;
    } else if (isIbanSep(c) && raw.length >= 2 && p + 1 < len && (isDigit(text.charCodeAt(p + 1)) || isAsciiLetter(text.charCodeAt(p + 1))) && (sep === -1 || sep === c)) {
      sep = c;
      p++;
    } else break;
  }
  if (raw.length < want) return -1;
  // Glued to more letters or digits: a longer token, not this IBAN.
  if (p < len && (isDigit(text.charCodeAt(p)) || isAsciiLetter(text.charCodeAt(p)))) return -1;
  const v = raw.toUpperCase();
  // Shaped like an IBAN of a real IBAN country but failing mod-97: a typo'd IBAN.
  // Skip it whole so its digit groups are not read as a card or a BSN.
  if (!isValidIban(v)) return -p;
  // Country letters in lower case are rare in print; accept but trust less.
  const upper = text.slice(s, s + 2) === cc;
  sink.out.push({
    type: "IBAN",
    start: s,
    end: p,
    value: normaliseIban(v),
    maskedValue: maskIban(v),
    confidence: upper ? 0.95 : 0.8,
  });
  return p;
}

// ---------------------------------------------------------------- '@': e-mail and URL credentials

function isLocalChar(c: number): boolean {
  return (c < 128 && isWordChar(c)) || c === 46 || c === 45 || c === 43 || c === 37 || c === 39;
}
function isDomainChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46;
}
function isUserinfoChar(c: number): boolean {
  return c > 32 && c !== 47 && c !== 64 && c !== 34 && c !== 39 && c !== 60 && c !== 62 && c !== 96 && c !== 0xa0;
}

/** Handles the '@' at `a`; returns where scanning resumes. */
export function scanAt(text: string, a: number, sink: Sink): number {
  // scheme://user:password@host
  let u = a - 1;
  const min = Math.max(0, a - 200);
  while (u >= min && isUserinfoChar(text.charCodeAt(u))) u--;
  u++;
  if (u >= 3 && text.startsWith("://", u - 3)) {
    // Unencoded '@' in passwords is common: the authority ends at its last '@'.
    let e = a + 1;
    const emax = Math.min(text.length, a + 200);
    while (e < emax && (isUserinfoChar(text.charCodeAt(e)) || text.charCodeAt(e) === 64)) e++;
    const lastAt = text.lastIndexOf("@", e - 1);
    if (lastAt > a) a = lastAt;
    let colon = u;
    while (colon < a && text.charCodeAt(colon) !== 58) colon++;
    if (colon >= u && colon < a) {
      const pw = text.slice(colon + 1, a);
      if (sink.want.has("PASSWORD") && pw.length > 0 && !isPlaceholderSecret(pw)) {
        sink.out.push({
          type: "PASSWORD",
          start: colon + 1,
          end: a,
          value: pw,
          maskedValue: maskPassword(pw),
          confidence: 0.9,
        });
      }
    }
    return a + 1;
  }
  if (!sink.want.has("EMAIL")) return a + 1;
  let ls = a - 1;
  const lmin = Math.max(0, a - 64);
  while (ls >= lmin && isLocalChar(text.charCodeAt(ls))) ls--;
  ls++;
  while (ls < a && (text.charCodeAt(ls) === 46 || text.charCodeAt(ls) === 39)) ls++;
  if (ls >= a) return a + 1;
  let de = a + 1;
  const dmax = Math.min(text.length, a + 254);
  while (de < dmax && isDomainChar(text.charCodeAt(de))) de++;
  while (de > a + 1 && (text.charCodeAt(de - 1) === 46 || text.charCodeAt(de - 1) === 45)) de--;
  const email = text.slice(ls, de);
  if (!isValidEmail(email)) return a + 1;
  const v = email.toLowerCase();
  sink.out.push({ type: "EMAIL", start: ls, end: de, value: v, maskedValue: maskEmail(email), confidence: 0.9 });
  return de;
}

// ---------------------------------------------------------------- ':' : IPv6

/** IPv6 around the ':' at `c`; returns the end of the address or -1. */
export function scanIPv6(text: string, c: number, sink: Sink): number {
  const len = text.length;
  const p = c > 0 ? text.charCodeAt(c - 1) : 0;
  const q = c + 1 < len ? text.charCodeAt(c + 1) : 0;
  if (!(isHex(p) || p === 58) || !(isHex(q) || q === 58)) {
    if (!(q === 58 || p === 58)) return -1;
  }
  let s = c;
  const smin = Math.max(0, c - 40);
  while (s > smin && (isHex(text.charCodeAt(s - 1)) || text.charCodeAt(s - 1) === 58)) s--;
  let e = c + 1;
  const emax = Math.min(len, c + 46);
  while (e < emax && (isHex(text.charCodeAt(e)) || text.charCodeAt(e) === 58 || text.charCodeAt(e) === 46)) e++;
  while (e > c + 1 && text.charCodeAt(e - 1) === 46) e--;
  if (text.charCodeAt(e - 1) === 58 && text.charCodeAt(e - 2) !== 58) e--;
  const before = s > 0 ? text.charCodeAt(s - 1) : 0;
  const after = e < len ? text.charCodeAt(e) : 0;
  if (isWordChar(before) || before === 46 || isWordChar(after)) return -1;
  const tok = text.slice(s, e);
  if (tok.length < 3 || tok === "::") return -1;
  let colons = 0;
  for (let k = 0; k < tok.length; k++) if (tok.charCodeAt(k) === 58) colons++;
  if (colons < 2 || !isValidIPv6(tok)) return -1;
  // A bare "::" with only letters ("ab::cd") is more likely code than an address.
  if (!/\d/.test(tok)) return -1;
  const v = tok.toLowerCase();
  sink.out.push({ type: "IP_ADDRESS", start: s, end: e, value: v, maskedValue: maskIp(v), confidence: isNonPublicIp(v) ? 0.65 : 0.8 });
  return e;
}

export { isSpace };
