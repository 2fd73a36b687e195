/**
 * Checksum and format validators. Pure; each answers for one already-extracted value.
 * Libraries: libphonenumber-js ("max" metadata: full numbering-plan patterns, not only
 * lengths) for phones, ibantools for per-country IBAN length, BBAN format and mod-97.
 */
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";
import { isValidIBAN as ibantoolsIsValidIBAN } from "ibantools";

/** Strips everything but ASCII digits. */
export function digitsOnly(s: string): string {
  return s.replace(/\D+/g, "");
}

/** Luhn (mod 10) over a string of digits (other characters make it false). */
export function luhnCheck(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export type CardBrand = "VISA" | "MASTERCARD" | "AMEX" | "DISCOVER" | "DINERS" | "JCB" | "MAESTRO" | "UNIONPAY" | "UATP";

/**
 * Issuer by IIN range and allowed lengths (ISO/IEC 7812 as published by the brands).
 * Returns null when the prefix/length pair belongs to no known brand.
 */
export function cardBrand(digits: string): CardBrand | null {
  const len = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if ((p2 === 34 || p2 === 37) && len === 15) return "AMEX";
  if (digits[0] === "1" && len === 15) return "UATP";
  if (digits[0] === "4" && (len === 13 || len === 16 || len === 19)) return "VISA";
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && len === 16) return "MASTERCARD";
  if ((p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) && len >= 16 && len <= 19)
    return "DISCOVER";
  if (((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39 || p4 === 3095) && len >= 14 && len <= 19) return "DINERS";
  if (p4 >= 3528 && p4 <= 3589 && len >= 16 && len <= 19) return "JCB";
  if (p2 === 62 && len >= 16 && len <= 19) return "UNIONPAY";
  if ((p4 === 5018 || p4 === 5020 || p4 === 5038 || p4 === 5893 || p4 === 6304 || p4 === 6759 || p4 === 6761 || p4 === 6762 || p4 === 6763 || p2 === 67 || p2 === 50 || (p2 >= 56 && p2 <= 58)) && len >= 12 && len <= 19)
    return "MAESTRO";
  return null;
}

/** A card number: known issuer range and length, and the Luhn check. Separators allowed. */
export function isValidCreditCard(input: string): boolean {
  if (!/^[\d \-]+$/.test(input)) return false;
  const digits = digitsOnly(input);
  if (digits.length < 12 || digits.length > 19) return false;
  if (/^(\d)\1+$/.test(digits)) return false;
  return cardBrand(digits) !== null && luhnCheck(digits);
}

/**
 * Dutch BSN 11-check ("elfproef"): 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 divisible by 11,
 * not all zeros. Accepts `123456782`, `1234.56.782`, `123 456 782`.
 */
export function isValidBsn(input: string): boolean {
  if (!/^[\d .\-]+$/.test(input)) return false;
  const d = digitsOnly(input);
  if (d.length !== 9 || d === "000000000") return false;
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += (9 - i) * (d.charCodeAt(i) - 48);
  sum -= d.charCodeAt(8) - 48;
  return sum % 11 === 0;
}

/** Uppercase, no spaces: `NL91 ABNA 0417 1643 00` → `NL91ABNA0417164300`. */
export function normaliseIban(input: string): string {
  return input.replace(/[\s\-]+/g, "").toUpperCase();
}

/** IBAN of any country: per-country length and BBAN format, mod-97 (ibantools). */
export function isValidIban(input: string): boolean {
  const iban = normaliseIban(input);
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{8,30}$/.test(iban)) return false;
  return ibantoolsIsValidIBAN(iban);
}

/**
 * Results of `normalisePhone` for the default region (a libphonenumber parse costs tens
 * of microseconds; numbers repeat within and across documents). Bounded.
 */
const phoneCache = new Map<string, string | null>();

/** E.164 form of a phone number valid in its numbering plan, else null. */
export function normalisePhone(input: string, defaultRegion: CountryCode = "NL"): string | null {
  const key = defaultRegion === "NL" ? input : `${defaultRegion}|${input}`;
  let r = phoneCache.get(key);
  if (r === undefined) {
    r = normalisePhoneUncached(input, defaultRegion);
    if (phoneCache.size >= 20_000) phoneCache.clear();
    phoneCache.set(key, r);
  }
  return r;
}

function normalisePhoneUncached(input: string, defaultRegion: CountryCode): string | null {
  // "+31 (0)6 ..." is common in NL; the "(0)" trunk prefix is not part of the number.
  let s = input.replace(/\(0\)/g, "");
  if (s.startsWith("00")) s = "+" + s.slice(2);
  if (!/^\+?[\d ()\-./\u00a0]+$/.test(s)) return null;
  const parsed = parsePhoneNumberFromString(s, defaultRegion);
  if (!parsed || !parsed.isValid()) return null;
  return parsed.number;
}

export function isValidPhone(input: string, defaultRegion: CountryCode = "NL"): boolean {
  return normalisePhone(input, defaultRegion) !== null;
}

/** Dotted-quad IPv4, each octet 0..255 without leading zeros (`010.0.0.1` is ambiguous). */
export function isValidIPv4(s: string): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return false;
    if (p.length > 1 && p[0] === "0") return false;
    if (Number(p) > 255) return false;
  }
  return true;
}

/** IPv6 in any RFC 4291 text form (`::`, embedded IPv4), without zone id. */
export function isValidIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  const dbl = s.indexOf("::");
  if (dbl !== -1 && s.indexOf("::", dbl + 1) !== -1) return false;
  let groups = 0;
  const parts = (dbl === -1 ? [s] : [s.slice(0, dbl), s.slice(dbl + 2)]).filter((p) => p.length > 0);
  for (let pi = 0; pi < parts.length; pi++) {
    const segs = parts[pi]!.split(":");
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      const isLast = pi === parts.length - 1 && i === segs.length - 1;
      if (isLast && seg.includes(".")) {
        if (!isValidIPv4(seg)) return false;
        groups += 2;
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(seg)) return false;
        groups += 1;
      }
    }
  }
  return dbl === -1 ? groups === 8 : groups <= 7;
}

export function isValidIp(s: string): boolean {
  return s.includes(":") ? isValidIPv6(s) : isValidIPv4(s);
}

/** Private, loopback, link-local, documentation or unspecified: still an IP, less personal. */
export function isNonPublicIp(s: string): boolean {
  if (s.includes(":")) {
    const l = s.toLowerCase();
    // IPv4-mapped and -compatible addresses are as public as their IPv4 part.
    const dot = l.lastIndexOf(":");
    if (l.includes(".") && (l.startsWith("::ffff:") || l.startsWith("::"))) return isNonPublicIp(l.slice(dot + 1));
    return l === "::1" || l === "::" || l.startsWith("fe80:") || l.startsWith("fc") || l.startsWith("fd") || l.startsWith("2001:db8:");
  }
  const [a, b] = s.split(".").map(Number) as [number, number];
  return a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || a >= 224;
}

/** Pragmatic RFC 5321 mailbox: dot-atom local part, LDH labels, alphabetic TLD. */
export function isValidEmail(s: string): boolean {
  const at = s.lastIndexOf("@");
  if (at <= 0 || at > 64) return false;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local)) return false;
  if (domain.length > 253) return false;
  const labels = domain.split(".");
  if (labels.length < 2) return false;
  for (const l of labels) if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l)) return false;
  const tld = labels[labels.length - 1]!;
  // Alphabetic, or an internationalised TLD in punycode ("xn--p1ai", RFC 3492).
  if (!/^[A-Za-z]{2,24}$/.test(tld) && !/^xn--[A-Za-z0-9-]{2,59}$/i.test(tld)) return false;
  return !FILE_EXTENSION_TLDS.has(tld.toLowerCase());
}

/** `icon@2x.png`, `file@v2.js`: names of files, not mailboxes. */
const FILE_EXTENSION_TLDS = new Set([
  "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "mjs", "cjs", "ts", "tsx", "jsx", "map",
  "json", "html", "htm", "txt", "pdf", "zip", "gz", "tgz", "exe", "dll", "so", "py", "rb", "java", "class", "md", "yml", "yaml", "xml", "lock", "mp3", "mp4", "woff", "woff2", "ttf",
]);

/** Decodes the first part of a JWT and checks it is a JSON object with "alg". */
export function isJwt(token: string): boolean {
  const parts = token.split(".");
  if (parts.length !== 3) return false;
  const [h, p] = parts as [string, string, string];
  if (h.length < 10 || p.length < 2) return false;
  if (!/^[A-Za-z0-9_-]+$/.test(h) || !/^[A-Za-z0-9_-]+$/.test(p) || !/^[A-Za-z0-9_-]*$/.test(parts[2]!)) return false;
  // Tokens of one issuer share their header: decode each header once.
  let ok = JWT_HEADERS.get(h);
  if (ok === undefined) {
    ok = isJwtHeader(h);
    if (h.length <= 1024) {
      if (JWT_HEADERS.size >= 256) JWT_HEADERS.clear();
      JWT_HEADERS.set(h, ok);
    }
  }
  return ok;
}

/** Header part (base64url) -> is a JSON object with "alg"; bounded (cleared when full). */
const JWT_HEADERS = new Map<string, boolean>();

function isJwtHeader(h: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    return typeof header === "object" && header !== null && !Array.isArray(header) && "alg" in header;
  } catch {
    return false;
  }
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** AWS access key id: AKIA (long-term) or ASIA (temporary) + 16 upper-case alphanumerics. */
export function isAwsAccessKeyId(s: string): boolean {
  return /^(?:AKIA|ASIA)[A-Z0-9]{16}$/.test(s);
}
