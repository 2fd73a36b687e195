/**
 * Masking keeps only what PCI DSS / GDPR allow and just enough to recognise a value.
 * Each function takes the raw (or normalised) value and never returns it whole.
 */
import { digitsOnly, normaliseIban } from "./validators.js";
import type { FindingType } from "./types.js";

/** `jan.jansen@example.com` → `j***@example.com` (first character of the local part). */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return "***";
  return `${email[0]}***@${email.slice(at + 1).toLowerCase()}`;
}

/** Keeps the last 2 digits: `+31612345678` → `*********78`. */
export function maskPhone(phone: string): string {
  const d = digitsOnly(phone);
  if (d.length <= 4) return "*".repeat(d.length);
  return "*".repeat(d.length - 2) + d.slice(-2);
}

/** Country and last 4, fixed shape so the length is not revealed: `NL** **** **** **** 4300`. */
export function maskIban(iban: string): string {
  const n = normaliseIban(iban);
  return `${n.slice(0, 2)}** **** **** **** ${n.slice(-4)}`;
}

/** PCI DSS: at most first 6 and last 4; shorter PANs keep first 4 and last 4. */
export function maskCreditCard(card: string): string {
  const d = digitsOnly(card);
  const head = d.length >= 15 ? 6 : 4;
  return d.slice(0, head) + "*".repeat(d.length - head - 4) + d.slice(-4);
}

/** Last 2 digits: `123456782` → `*******82`. */
export function maskBsn(bsn: string): string {
  const d = digitsOnly(bsn);
  return "*".repeat(Math.max(0, d.length - 2)) + d.slice(-2);
}

/** Network part only: `203.0.113.42` → `203.0.*.*`; IPv6 keeps the first two groups. */
export function maskIp(ip: string): string {
  if (ip.includes(":")) {
    // The first two groups of the full form: never the embedded IPv4 of "::ffff:192.0.2.1"
    // nor the interface part a "::" would bring forward.
    const full = expandIPv6(ip);
    return full ? `${full[0]}:${full[1]}:****:****` : "****:****:****:****";
  }
  const o = ip.split(".");
  return `${o[0]}.${o[1]}.*.*`;
}

/** The eight 16-bit groups of an IPv6 address (hex, no leading zeros), or null. */
export function expandIPv6(ip: string): string[] | null {
  let s = ip.toLowerCase();
  if (!s.includes("::") && !s.includes(".")) {
    const g = s.split(":");
    return g.length === 8 ? g.map((x) => x.replace(/^0+(?=.)/, "")) : null;
  }
  const dot = s.lastIndexOf(".");
  if (dot !== -1) {
    // Embedded IPv4: its four octets are the last two groups.
    const colon = s.lastIndexOf(":");
    const o = s.slice(colon + 1).split(".").map(Number);
    if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return null;
    s = `${s.slice(0, colon + 1)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const dbl = s.indexOf("::");
  const head = (dbl === -1 ? s : s.slice(0, dbl)).split(":").filter((g) => g.length > 0);
  const tail = dbl === -1 ? [] : s.slice(dbl + 2).split(":").filter((g) => g.length > 0);
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (dbl === -1 && fill !== 0)) return null;
  return [...head, ...Array.from({ length: fill }, () => "0"), ...tail].map((g) => g.replace(/^0+(?=.)/, ""));
}

/** `AKIAIOSFODNN7EXAMPLE` → `AKIA************`. */
export function maskAwsKey(key: string): string {
  return `${key.slice(0, 4)}************`;
}

/** The header line only: `-----BEGIN RSA PRIVATE KEY----- [redacted]`. */
export function maskPrivateKey(pem: string): string {
  const m = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/.exec(pem);
  return `${m ? m[0] : "-----BEGIN PRIVATE KEY-----"} [redacted]`;
}

/** `eyJhbGciOi...` → `eyJhbG**********` (the header prefix is not secret). */
export function maskJwt(token: string): string {
  return `${token.slice(0, 6)}**********`;
}

const KNOWN_KEY_PREFIX =
  /^(?:sk_live_|sk_test_|rk_live_|rk_test_|whsec_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|xoxe\.xox[bp]-|xox[abposre]-|xapp-|AIza|ya29\.|GOCSPX-|gl(?:pat|dt|rt|ptt|soat|ffct|imt|agent|oas|cbt|ft)-|GR1348941|SG\.|shp(?:at|ss|ca|pa)_|hf_|pypi-|do[opr]_v1_|glsa_|lin_api_|sq0(?:atp|csp)-|xkeysib-|rubygems_|pscale_(?:tkn|pw|oauth)_|npm_|sk-ant-|sk-proj-|sk-svcacct-|sk-admin-|sk-)/;

/** A provider prefix if there is one, else at most 4 characters: `ghp_************`. */
export function maskApiKey(key: string): string {
  const m = KNOWN_KEY_PREFIX.exec(key);
  const keep = m ? m[0] : key.length >= 20 ? key.slice(0, 4) : "";
  return `${keep}************`;
}

/** Passwords are fully masked, with a fixed length. */
export function maskPassword(_password: string): string {
  return "********";
}

export function maskValue(type: FindingType, value: string): string {
  switch (type) {
    case "EMAIL":
      return maskEmail(value);
    case "PHONE_NUMBER":
      return maskPhone(value);
    case "IBAN":
      return maskIban(value);
    case "CREDIT_CARD":
      return maskCreditCard(value);
    case "BSN":
      return maskBsn(value);
    case "IP_ADDRESS":
      return maskIp(value);
    case "AWS_ACCESS_KEY":
      return maskAwsKey(value);
    case "PRIVATE_KEY":
      return maskPrivateKey(value);
    case "JWT":
      return maskJwt(value);
    case "API_KEY":
      return maskApiKey(value);
    case "PASSWORD":
      return maskPassword(value);
  }
}
