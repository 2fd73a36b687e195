/**
 * Candidate finders for personal data. Each is driven by the engine's prefilter (a digit,
 * an '@', a ':') and reads only the text around its trigger.
 */
import { isAsciiLetter, isDigit, isHex, isSpace, isWordChar } from "./chars.js";
import { maskBsn, maskCreditCard, maskEmail, maskIban, maskIp, maskPassword, maskPhone } from "./masking.js";
import type { Candidate, FindingType } from "./types.js";
import { getCountrySpecifications } from "ibantools";
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
}

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

  // Cards: 13-19 digits, one group or groups of >= 3 digits with one repeated separator.
  if (want.has("CREDIT_CARD")) {
    for (let a = 0; a < n; a++) {
      let sep: string | null = null;
      let digits = 0;
      let found = -1;
      for (let b = a; b < n; b++) {
        const glen = groups[b]!.end - groups[b]!.start;
        if (b > a) {
          const s = seps[b - 1]!;
          if (s !== " " && s !== "-" && s !== "\u00a0") break;
          if (sep === null) sep = s;
          else if (s !== sep) break;
          if (glen < 3 || groups[a]!.end - groups[a]!.start < 3) break;
        }
        digits += glen;
        if (digits > 19) break;
        if (digits >= 13 && isValidCreditCard(joinDigits(text, groups, a, b))) {
          // A window inside a longer run of groups joined the same way is part of another number.
          const s = sep ?? (b < n - 1 ? seps[b]! : " ");
          const leftJoined = a > 0 && seps[a - 1] === s && s.length === 1 && groups[a - 1]!.end - groups[a - 1]!.start >= 3;
          const rightJoined = b < n - 1 && seps[b] === s && s.length === 1 && groups[b + 1]!.end - groups[b + 1]!.start >= 3;
          if (!leftJoined && !rightJoined) found = b;
        }
      }
      if (found >= 0) {
        const d = joinDigits(text, groups, a, found);
        sink.out.push({
          type: "CREDIT_CARD",
          start: groups[a]!.start,
          end: groups[found]!.end,
          value: d,
          maskedValue: maskCreditCard(d),
          confidence: 0.85,
        });
        a = found;
      }
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

  // Phones: start at "+", "00" or a trunk "0"; longest window that libphonenumber validates.
  if (want.has("PHONE_NUMBER")) {
    for (let a = 0; a < n; a++) {
      const g = groups[a]!;
      const first = text.charCodeAt(g.start);
      const isPlus = a === 0 && plus;
      if (!isPlus && first !== 48) continue;
      // Tightly joined to a number on its left ("3656-058779-4823"): part of that number.
      if (a > 0 && seps[a - 1]!.length === 1) continue;
      const intl = isPlus || text.startsWith("00", g.start);
      const minD = isPlus ? 8 : intl ? 10 : 10;
      const maxD = isPlus ? 16 : intl ? 17 : 11;
      let done = -1;
      const lastB = Math.min(n - 1, a + 7);
      for (let b = lastB; b >= a; b--) {
        const d = digitCount(text, groups, a, b);
        if (d > maxD || d < minD) continue;
        if (!intl && d !== 10 && !(d === 11 && /\(0\)/.test(text.slice(g.start, groups[b]!.end)))) continue;
        // Dotted quads belong to IPv4.
        let allDots = b > a;
        for (let k = a; k < b; k++) if (seps[k] !== ".") allDots = false;
        if (allDots && b - a === 3) continue;
        const start = isPlus ? regionStart : a === 0 && regionStart < g.start ? regionStart : g.start;
        const raw = text.slice(start, groups[b]!.end);
        const e164 = normalisePhone(raw);
        if (!e164) continue;
        sink.out.push({
          type: "PHONE_NUMBER",
          start,
          end: groups[b]!.end,
          value: e164,
          maskedValue: maskPhone(e164),
          confidence: intl ? 0.8 : 0.7,
        });
        done = b;
        break;
      }
      if (done >= 0) a = done;
    }
  }
}

// ---------------------------------------------------------------- IBAN

const IBAN_COUNTRIES: ReadonlySet<string> = new Set(
  Object.entries(getCountrySpecifications())
    .filter(([, spec]) => spec.chars !== undefined && spec.chars !== null && spec.chars > 0)
    .map(([cc]) => cc),
);

/**
 * IBAN starting at `s` (two letters then two check digits): electronic (`NL91ABNA0417164300`)
 * or printed in groups of four (`NL91 ABNA 0417 1643 00`). Returns the end; -end for an
 * IBAN-shaped run that fails validation (to be skipped); -1 for nothing IBAN-like.
 */
export function scanIban(text: string, s: number, sink: Sink): number {
  const len = text.length;
  const max = Math.min(len, s + 50);
  let raw = "";
  let p = s;
  let lastGood = -1;
  let lastValue = "";
  if (!isDigit(text.charCodeAt(s + 2)) || !isDigit(text.charCodeAt(s + 3))) return -1;
  // Read alphanumerics, allowing single spaces (or dashes) between groups of four.
  let groupLen = 0;
  while (p < max && raw.length < 34) {
    const c = text.charCodeAt(p);
    if (isDigit(c) || isAsciiLetter(c)) {
      raw += text[p];
      p++;
      groupLen++;
      const next = p < len ? text.charCodeAt(p) : 0;
      if (raw.length >= 15 && !isDigit(next) && !isAsciiLetter(next)) {
        const v = raw.toUpperCase();
        if (isValidIban(v)) {
          lastGood = p;
          lastValue = v;
        }
      }
    } else if ((c === 32 || c === 0xa0 || c === 45) && groupLen === 4 && p + 1 < max && (isDigit(text.charCodeAt(p + 1)) || isAsciiLetter(text.charCodeAt(p + 1)))) {
      p++;
      groupLen = 0;
    } else break;
  }
  if (lastGood < 0) {
    // Shaped like an IBAN of a real IBAN country but failing mod-97: a typo'd IBAN.
    // Skip it whole so its digit groups are not read as a card or a BSN.
    return raw.length >= 15 && IBAN_COUNTRIES.has(raw.slice(0, 2).toUpperCase()) ? -p : -1;
  }
  const cc = lastValue.slice(0, 2);
  // Country letters in lower case are rare in print; accept but trust less.
  const upper = text.slice(s, s + 2) === cc;
  sink.out.push({
    type: "IBAN",
    start: s,
    end: lastGood,
    value: normaliseIban(lastValue),
    maskedValue: maskIban(lastValue),
    confidence: upper ? 0.95 : 0.8,
  });
  return lastGood;
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

const PLACEHOLDER_PASSWORD =
  /^(?:\$\{[^}]*\}|\$\(?[A-Za-z_][A-Za-z0-9_]*\)?|<[^>]*>|\{\{[^}]*\}\}|\{[A-Za-z_]+\}|%\([^)]*\)s|%[A-Za-z_]+%|%s|\*+|x+|X+|\.+|-+|_+|\?+|null|none|nil|undefined|true|false|todo|tbd|changeme|change_me|example|secret|password|passwd|pass|pwd|wachtwoord|your[_-]?\w*|my[_-]?password|\[[^\]]*\]|:[a-z_]+|pass(?:word)?\d?)$/i;

export function isPlaceholderSecret(v: string): boolean {
  return PLACEHOLDER_PASSWORD.test(v);
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
    const colon = text.indexOf(":", u);
    if (colon > u && colon < a) {
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
