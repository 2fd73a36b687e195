/**
 * Candidate finders for secrets: cloud keys, PEM private keys, JWTs, provider API keys,
 * high-entropy values assigned to key-like names, and passwords in code and config.
 */
import { isB64Url, isSpace, isWordChar } from "./chars.js";
import { maskApiKey, maskAwsKey, maskJwt, maskPassword, maskPrivateKey } from "./masking.js";
import { isPlaceholderSecret, type Sink } from "./patterns.js";
import { isJwt, shannonEntropy } from "./validators.js";

// ---------------------------------------------------------------- AWS

const AWS_RE = /(?:AKIA|ASIA)[A-Z0-9]{16}/y;

export function scanAws(text: string, i: number, sink: Sink): number {
  if (i > 0 && isWordChar(text.charCodeAt(i - 1))) return i + 4;
  AWS_RE.lastIndex = i;
  if (!AWS_RE.test(text)) return i + 4;
  const end = AWS_RE.lastIndex;
  if (end < text.length && isWordChar(text.charCodeAt(end))) return end;
  const v = text.slice(i, end);
  sink.out.push({ type: "AWS_ACCESS_KEY", start: i, end, value: v, maskedValue: maskAwsKey(v), confidence: 0.9 });
  return end;
}

// ---------------------------------------------------------------- PEM private keys

const PEM_HEADER_RE = /-----BEGIN ((?:[A-Z0-9]+ ){0,2}PRIVATE KEY(?: BLOCK)?)-----/y;

export function scanPrivateKey(text: string, i: number, sink: Sink): number {
  PEM_HEADER_RE.lastIndex = i;
  const m = PEM_HEADER_RE.exec(text);
  if (!m) return i + 10;
  const headerEnd = PEM_HEADER_RE.lastIndex;
  const endMarker = `-----END ${m[1]}-----`;
  const endAt = text.indexOf(endMarker, headerEnd);
  let end: number;
  let body: string;
  if (endAt !== -1 && endAt - headerEnd < 64_000) {
    end = endAt + endMarker.length;
    body = text.slice(headerEnd, endAt).replace(/\s+/g, "");
  } else {
    // A truncated key still leaks; cover the header and the base64 lines after it.
    const rest = /^(?:\s*[A-Za-z0-9+/=:\-,]+)*/.exec(text.slice(headerEnd, headerEnd + 8000));
    end = headerEnd + (rest ? rest[0].length : 0);
    body = text.slice(headerEnd, end).replace(/\s+/g, "");
  }
  sink.out.push({
    type: "PRIVATE_KEY",
    start: i,
    end,
    value: body.length > 0 ? body : m[0],
    maskedValue: maskPrivateKey(m[0]),
    confidence: body.length >= 40 ? 0.99 : 0.8,
  });
  return end;
}

// ---------------------------------------------------------------- JWT

const JWT_RE = /eyJ[A-Za-z0-9_-]{7,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/y;

/** `i` is the index of "eyJ". */
export function scanJwt(text: string, i: number, sink: Sink): number {
  if (i > 0) {
    const b = text.charCodeAt(i - 1);
    if (isB64Url(b) || b === 46) return i + 3;
  }
  JWT_RE.lastIndex = i;
  if (!JWT_RE.test(text)) return i + 3;
  const end = JWT_RE.lastIndex;
  if (end < text.length && (isB64Url(text.charCodeAt(end)) || (text.charCodeAt(end) === 46 && isB64Url(text.charCodeAt(end + 1))))) return end;
  const v = text.slice(i, end);
  if (!isJwt(v)) return end;
  sink.out.push({ type: "JWT", start: i, end, value: v, maskedValue: maskJwt(v), confidence: 0.95 });
  return end;
}

// ---------------------------------------------------------------- provider API keys

/** Known provider formats, anchored at the token start. */
const PROVIDER_RE =
  /(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|npm_[A-Za-z0-9]{36}|xox[abposr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,}|sk-(?:proj-|ant-(?:api|admin)\d\d-)?[A-Za-z0-9_-]{20,}|AIza[A-Za-z0-9_-]{35})/y;

/** Looks for a provider key whose token starts at or shortly before `i`. */
export function scanProviderKey(text: string, i: number, sink: Sink): number {
  let s = i;
  const min = Math.max(0, i - 11);
  while (s > min && isWordChar(text.charCodeAt(s - 1)) ) s--;
  if (s > 0 && (isWordChar(text.charCodeAt(s - 1)) || text.charCodeAt(s - 1) === 45)) return i + 1;
  PROVIDER_RE.lastIndex = s;
  if (!PROVIDER_RE.test(text)) return i + 1;
  const end = PROVIDER_RE.lastIndex;
  if (end < text.length && isWordChar(text.charCodeAt(end))) return end;
  const v = text.slice(s, end);
  // "sk_live_XXXXXXXXXXXXXXXX", "ghp_000000...": documentation placeholders.
  const tail = v.replace(/^(?:sk_live_|sk_test_|rk_live_|rk_test_|gh[pousr]_|github_pat_|npm_|xox[abposr]-|glpat-|sk-proj-|sk-ant-\w+-|sk-|AIza)/, "");
  if (shannonEntropy(tail) < 3 || /(?:x{6,}|X{6,}|0{8,}|\.\.\.)/.test(tail)) return end;
  sink.out.push({ type: "API_KEY", start: s, end, value: v, maskedValue: maskApiKey(v), confidence: 0.9 });
  return end;
}

// ---------------------------------------------------------------- assignments

type NameKind = "PASSWORD" | "API_KEY" | null;

const PASSWORD_WORDS = new Set(["password", "passwd", "pwd", "pass", "wachtwoord", "passphrase", "passw", "pw", "wachtwoorden", "passwort", "mot_de_passe", "userpassword", "dbpassword"]);
const KEY_LAST = new Set(["token", "secret", "apikey", "secretkey", "accesstoken", "authtoken", "apitoken", "bearer", "privatekey", "accesskey", "clientsecret", "apisecret", "secretaccesskey", "sessiontoken", "refreshtoken", "webhooksecret", "signingkey", "encryptionkey", "masterkey"]);
const KEY_QUALIFIER = new Set(["api", "secret", "access", "private", "auth", "client", "master", "encryption", "signing", "app", "license", "licence", "service", "subscription", "account", "consumer", "webhook", "session", "refresh", "bearer", "x"]);

/** "<x>_key" names that hold identifiers, not secrets. */
const NOT_SECRET_KEY = new Set(["primary", "foreign", "sort", "cache", "partition", "public", "publishable", "row", "hash", "idempotency", "unique", "lookup", "map", "dict", "object", "registry", "group", "i18n", "translation", "redis", "s3", "storage", "bucket", "file", "ssh", "gpg", "pgp", "dedup", "composite", "natural", "surrogate", "shard", "routing", "event", "message", "query", "index", "search", "react", "list", "item", "node", "entry", "record", "table", "column", "field", "config", "setting", "settings", "env", "name", "type", "value", "data", "state", "store", "local", "session_storage", "host", "display", "label", "menu", "button", "hot", "short", "shortcut", "keyboard", "press", "up", "down"]);

/** Is this identifier (`DB_PASSWORD`, `apiKey`, `client-secret`) a password or key name? */
const nameCache = new Map<string, NameKind>();

export function classifyName(name: string): NameKind {
  let kind = nameCache.get(name);
  if (kind === undefined) {
    kind = classifyNameUncached(name);
    if (nameCache.size > 10_000) nameCache.clear();
    nameCache.set(name, kind);
  }
  return kind;
}

function classifyNameUncached(name: string): NameKind {
  const segs = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((s) => s.length > 0);
  if (segs.length === 0) return null;
  let last = segs[segs.length - 1]!;
  if (/^\d+$/.test(last) && segs.length > 1) {
    segs.pop();
    last = segs[segs.length - 1]!;
  }
  const prev = segs.length > 1 ? segs[segs.length - 2]! : "";
  if (PASSWORD_WORDS.has(last)) {
    // "pass" alone is too common a word ("pass: true"); accept it as a suffix of a name.
    if ((last === "pass" || last === "pw") && segs.length === 1) return null;
    return "PASSWORD";
  }
  const joined = segs.join("");
  if (/(?:password|wachtwoord|passwd)$/.test(joined)) return "PASSWORD";
  if (KEY_LAST.has(last)) {
    if (last === "token" && (prev === "csrf" || prev === "xsrf" || prev === "max" || prev === "next" || prev === "page")) return null;
    return "API_KEY";
  }
  if ((last === "key" || last === "keys") && (KEY_QUALIFIER.has(prev) || (prev !== "" && !NOT_SECRET_KEY.has(prev)))) return "API_KEY";
  if (/(?:apikey|api_key|secretkey|accesskey|authtoken|accesstoken)$/.test(joined)) return "API_KEY";
  return null;
}

function isNameChar(c: number): boolean {
  return isWordChar(c) || c === 46 || c === 45;
}

/** `config.password`, `os.environ["X"]`, `getSecret()`: expressions, not literals. */
const DOTTED_OR_CALL = /^(?:[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[[^\]]*\])+|[\w.$]+\(.*)$/;
/** `user_pass`, `dbPassword`, `secret`: could be a variable name. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * Handles an assignment operator at [o, oe) (`=`, `:`, `=>`, `:=`, `==`): reads the name
 * before it and the value after it.
 */
export function scanAssignment(text: string, o: number, oe: number, sink: Sink): void {
  // name
  let j = o - 1;
  let k = 0;
  while (j >= 0 && k < 3 && isSpace(text.charCodeAt(j))) {
    j--;
    k++;
  }
  let quotedName = false;
  if (j >= 0) {
    const c = text.charCodeAt(j);
    if (c === 34 || c === 39 || c === 96) {
      j--;
      quotedName = true;
    } else if (c === 93 /* ] */) return;
  }
  const nameEnd = j + 1;
  const nmin = Math.max(0, nameEnd - 64);
  while (j >= nmin && isNameChar(text.charCodeAt(j))) j--;
  const nameStart = j + 1;
  if (nameStart >= nameEnd) return;
  const name = text.slice(nameStart, nameEnd);
  const kind = classifyName(name);
  if (kind === null || !sink.want.has(kind)) return;

  // value
  let v = oe;
  const len = text.length;
  k = 0;
  while (v < len && k < 3 && isSpace(text.charCodeAt(v))) {
    v++;
    k++;
  }
  if (v >= len) return;
  const q = text.charCodeAt(v);
  let vs: number;
  let ve: number;
  let quoted = false;
  if (q === 34 || q === 39 || q === 96) {
    vs = v + 1;
    ve = vs;
    const vmax = Math.min(len, vs + 512);
    while (ve < vmax) {
      const c = text.charCodeAt(ve);
      if (c === q || c === 10 || c === 13) break;
      if (c === 92 /* \ */) ve++;
      ve++;
    }
    if (ve >= vmax || text.charCodeAt(ve) !== q) return;
    quoted = true;
  } else {
    // `os.environ['X']`, `config.get("x")`, `getenv("X")`: an expression, not a literal.
    if (/^[A-Za-z_$][\w$.]*\s*[[(]/.test(text.slice(v, v + 80))) return;
    // In a URL query ("?user=a&password=b") '&' ends the value; elsewhere it may be part of it.
    const before = nameStart > 0 ? text.charCodeAt(nameStart - 1) : 0;
    const inQuery = before === 63 || before === 38;
    vs = v;
    ve = vs;
    const vmax = Math.min(len, vs + 512);
    while (ve < vmax) {
      const c = text.charCodeAt(ve);
      if (c <= 32 || c === 0xa0 || c === 59 || c === 44 || c === 34 || c === 39 || c === 60 || c === 41 || c === 125 || c === 93) break;
      if (c === 38 /* & */ && inQuery) break;
      ve++;
    }
    // A sentence full stop is not part of the password.
    while (ve > vs && (text.charCodeAt(ve - 1) === 46 || text.charCodeAt(ve - 1) === 58)) ve--;
  }
  if (ve <= vs) return;
  const value = text.slice(vs, ve);
  if (isPlaceholderSecret(value)) return;
  if (value.startsWith("{") || value.startsWith("[") || value.startsWith("(") || value.startsWith("$")) return;

  if (!quoted) {
    if (DOTTED_OR_CALL.test(value)) return;
    // Code ("password = userPass", "token = auth_token;") assigns variables; config
    // ("DB_PASSWORD=s3cret", "Password=x;", "wachtwoord: Zomer2024") holds literals.
    const lineStart = text.lastIndexOf("\n", nameStart) + 1;
    const linePrefix = text.slice(lineStart, nameStart);
    const codeLike =
      (o > 0 && isSpace(text.charCodeAt(o - 1)) && text.charCodeAt(o) === 61) ||
      /\b(?:const|let|var|val|def|self|this|final|private|public|static|my)\b|[$(]/.test(linePrefix);
    if (IDENTIFIER.test(value) && (codeLike || /^(?:[a-z]+_[a-z_]+|[a-z]+(?:[A-Z][a-z]+)+)$/.test(value))) return;
    // In prose an unquoted value must end its line or look like a secret.
    const lineEnd = text.indexOf("\n", ve);
    const rest = text.slice(ve, lineEnd === -1 ? Math.min(len, ve + 200) : Math.min(lineEnd, ve + 200)).trim();
    const endsLine = rest === "" || /^[;,.)]?\s*(?:(?:#|\/\/).*)?$/.test(rest);
    const proseLike = text.charCodeAt(o) === 58 || vs > oe;
    if (!endsLine && proseLike && /^[A-Za-z\u00c0-\u024f][a-z\u00e0-\u024f]*$/.test(value)) return;
    if (/^(?:true|false|yes|no|on|off|required|optional|string|str|int|number|bool|boolean|any|object|varchar|text|hidden|masked|redacted|none|empty|unset|n\/a)$/i.test(value)) return;
  }

  if (kind === "PASSWORD") {
    if (value.length < 4 || value.length > 128) return;
    if (/^\d{1,4}$/.test(value)) return;
    if (/^[*•·xX#.]+$/.test(value)) return;
    sink.out.push({
      type: "PASSWORD",
      start: vs,
      end: ve,
      value,
      maskedValue: maskPassword(value),
      confidence: quoted || quotedName ? 0.85 : 0.75,
    });
    return;
  }
  // API_KEY: a long, high-entropy token.
  if (value.length < 16 || value.length > 512) return;
  if (!/^[A-Za-z0-9+/=_\-.~:]+$/.test(value)) return;
  if (value.includes("://") || /^[a-z]+(?:[._-][a-z]+)+$/.test(value)) return;
  const h = shannonEntropy(value);
  const classes = (/[a-z]/.test(value) ? 1 : 0) + (/[A-Z]/.test(value) ? 1 : 0) + (/\d/.test(value) ? 1 : 0);
  if (h < 3.2 || classes < 2) return;
  sink.out.push({
    type: "API_KEY",
    start: vs,
    end: ve,
    value,
    maskedValue: maskApiKey(value),
    confidence: h >= 4 ? 0.85 : 0.7,
  });
}

export { isSpace };
