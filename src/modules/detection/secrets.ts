/**
 * Candidate finders for secrets: cloud keys, PEM private keys, JWTs, provider API keys,
 * credentials in HTTP headers, command lines and URLs, and values assigned to key-like
 * names in code and configuration of many syntaxes.
 *
 * Every finder reads a bounded window around its trigger and returns where scanning may
 * resume, so the whole pass is linear in the text (issue 10): no search runs to the end of
 * the text or of a line once per trigger.
 */
import { isB64Url, isSpace, isWordChar } from "./chars.js";
import { maskApiKey, maskAwsKey, maskJwt, maskPassword, maskPrivateKey } from "./masking.js";
import type { Sink } from "./patterns.js";
import { isJwt, shannonEntropy } from "./validators.js";

// ---------------------------------------------------------------- placeholders

const PLACEHOLDER_PASSWORD =
  /^(?:\$\{[^}]*\}|\$\(?[A-Za-z_][A-Za-z0-9_]*\)?|<[^>]*>|\{\{[^}]*\}\}|\{[A-Za-z_]+\}|%\([^)]*\)s|%[A-Za-z_]+%|%s|\*+|#+|x+|X+|\.+|-+|_+|\?+|•+|null|nil|none|undefined|true|false|todo|tbd|changeme|change_me|example|sample|dummy|fake|placeholder|redacted|masked|secret|password|passwd|pass|pwd|wachtwoord|your[_-]?\w*|my[_-]?(?:password|secret|token|key|api[_-]?key)|\[[^\]]*\]|:[a-z_]+|pass(?:word)?\d?|test|testing|admin)$/i;

/** Words that mark a documentation value ("xoxb-my-bot-token", "sk-your-key-here"). */
const PLACEHOLDER_WORDS = /example|sample|dummy|placeholder|redacted|changeme|insert|replace|your|here|fake|not[-_]?a[-_]?real|notreal|xxxx|\.\.\./i;

/** Keys the vendors publish in their documentation (exact values). */
const DOCUMENTED_EXAMPLES: ReadonlySet<string> = new Set([
  "AKIAIOSFODNN7EXAMPLE",
  "ASIAIOSFODNN7EXAMPLE",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
  "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
  "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
  "sk_test_26PHem9AhJZvU623DfE1x4sd",
  "pk_test_TYooMQauvdEDq54NiTphI7jx",
  "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
  "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
  "xoxb-not-a-real-token-this-will-not-work",
  "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
]);

/** Consecutive characters ("abcdefgh", "0123456789", "ABCDEF123456") make up most of it. */
export function isSequential(v: string): boolean {
  if (v.length < 6) return false;
  let steps = 0;
  for (let i = 1; i < v.length; i++) {
    const d = v.charCodeAt(i) - v.charCodeAt(i - 1);
    if (d === 1 || d === -1) steps++;
  }
  return steps >= (v.length - 1) * 0.8;
}

/** One character repeated, or two alternating ("abababab", "********"). */
function isRepetitive(v: string): boolean {
  if (v.length < 6) return false;
  const a = v.charCodeAt(0);
  const b = v.charCodeAt(1);
  for (let i = 2; i < v.length; i++) if (v.charCodeAt(i) !== (i % 2 === 0 ? a : b)) return false;
  return true;
}

/** A template variable, a documentation value, a mask or a dummy, not a credential. */
export function isPlaceholderSecret(v: string): boolean {
  return PLACEHOLDER_PASSWORD.test(v) || DOCUMENTED_EXAMPLES.has(v) || isRepetitive(v) || isSequential(v);
}

/** For token bodies (after a provider prefix): also words of documentation and "EXAMPLE". */
export function isPlaceholderToken(v: string, body = v): boolean {
  if (DOCUMENTED_EXAMPLES.has(v) || isSequential(body) || isRepetitive(body)) return true;
  if (/EXAMPLE/.test(body) || PLACEHOLDER_WORDS.test(body)) return true;
  // Lower-case words joined by dashes ("my-bot-token"): real tokens mix case or digits.
  if (/^[a-z]+(?:[-_][a-z]+)+$/.test(body)) return true;
  return /x{6,}|X{6,}|0{8,}|\*{4,}|#{4,}/.test(body);
}

// ---------------------------------------------------------------- AWS

const AWS_RE = /(?:AKIA|ASIA)[A-Z0-9]{16}/y;

export function scanAws(text: string, i: number, sink: Sink): number {
  if (i > 0 && isWordChar(text.charCodeAt(i - 1))) return i + 4;
  AWS_RE.lastIndex = i;
  if (!AWS_RE.test(text)) return i + 4;
  const end = AWS_RE.lastIndex;
  if (end < text.length && isWordChar(text.charCodeAt(end))) return end;
  const v = text.slice(i, end);
  if (isPlaceholderToken(v, v.slice(4))) return end;
  sink.out.push({ type: "AWS_ACCESS_KEY", start: i, end, value: v, maskedValue: maskAwsKey(v), confidence: 0.9 });
  return end;
}

// ---------------------------------------------------------------- PEM private keys

const PEM_HEADER_RE = /-----BEGIN ((?:[A-Z0-9]+ ){0,2}PRIVATE KEY(?: BLOCK)?)-----/y;
/** Base64 lines of a key body (also with the `\n` escapes of a JSON string). */
const PEM_BODY_RE = /(?:\s|\\n|[A-Za-z0-9+/=:\-,])*/y;
const MAX_PEM = 64_000;

/**
 * First index of `needle` at or after `from`. Queries per needle never go backwards within
 * one detect call, so an answer (or "none") found once serves later queries: many headers
 * without their END line cost one search, not one per header.
 */
function nextIndexOf(sink: Sink, text: string, needle: string, from: number): number {
  let m = sink.memo.get(needle);
  if (m === undefined || from < m.from || (m.at !== -1 && m.at < from)) {
    m = { from, at: text.indexOf(needle, from) };
    sink.memo.set(needle, m);
  }
  return m.at;
}

export function scanPrivateKey(text: string, i: number, sink: Sink): number {
  PEM_HEADER_RE.lastIndex = i;
  const m = PEM_HEADER_RE.exec(text);
  if (!m) return i + 10;
  const headerEnd = PEM_HEADER_RE.lastIndex;
  const endMarker = `-----END ${m[1]}-----`;
  const endAt = nextIndexOf(sink, text, endMarker, headerEnd);
  let end: number;
  let body: string;
  if (endAt !== -1 && endAt - headerEnd < MAX_PEM) {
    end = endAt + endMarker.length;
    body = text.slice(headerEnd, endAt);
  } else {
    // A truncated key still leaks; cover the header and the base64 lines after it.
    PEM_BODY_RE.lastIndex = headerEnd;
    const limit = Math.min(text.length, headerEnd + 8000);
    PEM_BODY_RE.test(text.slice(0, limit));
    end = Math.max(headerEnd, Math.min(PEM_BODY_RE.lastIndex, limit));
    body = text.slice(headerEnd, end);
  }
  // JSON strings hold the line breaks as "\n" escapes.
  body = body.includes("\\") ? body.replace(/\\n|\s+/g, "") : body.replace(/\s+/g, "");
  // A header on the last line of a text (a chunk cut at a line boundary): the key follows.
  const atTextEnd = endAt === -1 && body.length === 0 && /^\s*$/.test(text.slice(headerEnd, headerEnd + 16)) && text.length - headerEnd <= 16;
  // An empty block, "..." or "<key>" in documentation: no key. A body needs a long base64 run.
  if (!atTextEnd && (!/[A-Za-z0-9+/]{40}/.test(body) || body.includes("...") || body.includes("EXAMPLE") || body.includes("xxxxxxxx") || body.includes("XXXXXXXX") || isRepetitive(body))) return end;
  sink.out.push({
    type: "PRIVATE_KEY",
    start: i,
    end,
    value: body.length > 0 ? body : m[0],
    maskedValue: maskPrivateKey(m[0]),
    confidence: atTextEnd ? 0.8 : endAt !== -1 && end === endAt + endMarker.length ? 0.99 : 0.9,
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
  // jwt.io's sample token and empty signatures are documentation.
  const sig = v.slice(v.lastIndexOf(".") + 1);
  if (DOCUMENTED_EXAMPLES.has(sig)) return end;
  sink.out.push({ type: "JWT", start: i, end, value: v, maskedValue: maskJwt(v), confidence: 0.95 });
  return end;
}

// ---------------------------------------------------------------- provider API keys

/**
 * Known provider formats, anchored at the token start (current formats as documented by
 * each vendor): Stripe secret/restricted keys and webhook secrets, GitHub tokens (classic
 * and fine-grained), npm, Slack (bot, user, app-level, refresh, rotated), GitLab tokens,
 * OpenAI (user, project, service-account, admin), Anthropic, Google API keys, OAuth access
 * tokens and client secrets, SendGrid, Shopify, Hugging Face, PyPI, DigitalOcean, Grafana,
 * Linear, Square, Brevo, RubyGems, PlanetScale.
 */
const PROVIDER_RE =
  /(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9+/=]{24,}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|npm_[A-Za-z0-9]{36}|(?:xoxe\.)?xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}|gl(?:pat|dt|rt|ptt|soat|ffct|imt|agent|oas|cbt|ft)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,}|sk-ant-(?:api|admin|sid)\d\d-[A-Za-z0-9_-]{20,}|sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}|AIza[A-Za-z0-9_-]{35}|ya29\.[A-Za-z0-9_-]{20,}|GOCSPX-[A-Za-z0-9_-]{20,}|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}|hf_[A-Za-z0-9]{34}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}|do[opr]_v1_[a-f0-9]{64}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|lin_api_[A-Za-z0-9]{40}|sq0(?:atp|csp)-[A-Za-z0-9_-]{22,43}|xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}|rubygems_[a-f0-9]{48}|pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64})/y;

const PROVIDER_PREFIX =
  /^(?:sk_live_|sk_test_|rk_live_|rk_test_|whsec_|gh[pousr]_|github_pat_|npm_|(?:xoxe\.)?xox[abposre]-(?:\d+-)*|xapp-\d-|gl[a-z]{2,5}-|GR1348941|sk-ant-\w+?-|sk-proj-|sk-svcacct-|sk-admin-|sk-None-|sk-|AIza|ya29\.|GOCSPX-|SG\.|shp(?:at|ss|ca|pa)_|hf_|pypi-|do[opr]_v1_|glsa_|lin_api_|sq0(?:atp|csp)-|xkeysib-|rubygems_|pscale_(?:tkn|pw|oauth)_)/;

/** Looks for a provider key whose token starts at or shortly before `i`. */
export function scanProviderKey(text: string, i: number, sink: Sink): number {
  let s = i;
  const min = Math.max(0, i - 11);
  while (s > min && isWordChar(text.charCodeAt(s - 1))) s--;
  // Slack's rotated tokens: "xoxe.xoxp-...".
  if (s >= 5 && text.charCodeAt(s - 1) === 46 && text.startsWith("xoxe.", s - 5)) s -= 5;
  if (s > 0 && (isWordChar(text.charCodeAt(s - 1)) || text.charCodeAt(s - 1) === 45)) return i + 1;
  PROVIDER_RE.lastIndex = s;
  if (!PROVIDER_RE.test(text)) return i + 1;
  let end = PROVIDER_RE.lastIndex;
  if (end < text.length && isWordChar(text.charCodeAt(end))) return end;
  // A sentence's full stop or dash is not part of the key.
  while (end > s && (text.charCodeAt(end - 1) === 45 || text.charCodeAt(end - 1) === 46)) end--;
  const v = text.slice(s, end);
  const tail = v.replace(PROVIDER_PREFIX, "");
  if (tail.length < 10 || shannonEntropy(tail) < 3 || isPlaceholderToken(v, tail)) return end;
  sink.out.push({ type: "API_KEY", start: s, end, value: v, maskedValue: maskApiKey(v), confidence: 0.9 });
  return end;
}

// ---------------------------------------------------------------- key names

type NameKind = "PASSWORD" | "API_KEY" | null;

const PASSWORD_WORDS = new Set(["password", "passwd", "pwd", "pass", "wachtwoord", "passphrase", "passw", "pw", "pswd", "passcode", "wachtwoorden", "passwort", "mot_de_passe", "motdepasse", "contrasena", "senha", "userpassword", "dbpassword"]);
const KEY_LAST = new Set(["token", "secret", "apikey", "secretkey", "accesstoken", "authtoken", "apitoken", "bearer", "privatekey", "accesskey", "clientsecret", "apisecret", "secretaccesskey", "sessiontoken", "refreshtoken", "webhooksecret", "signingkey", "encryptionkey", "masterkey", "authorization", "credentials", "credential"]);
const KEY_QUALIFIER = new Set(["api", "secret", "access", "private", "auth", "client", "master", "encryption", "signing", "app", "license", "licence", "service", "subscription", "account", "consumer", "webhook", "session", "refresh", "bearer", "x"]);
/** "<x>_token" names that hold no secret. */
const NOT_SECRET_TOKEN = new Set(["csrf", "xsrf", "max", "next", "page", "continuation", "pagination", "cancellation", "sync", "last", "first", "eof", "invalid", "unexpected", "num", "lexer", "parse", "parser", "input", "end", "start", "word", "design", "color", "colour"]);
/** Names that say the value is public ("publicToken", "public_key", "pk_live"). */
const PUBLIC_WORDS = new Set(["public", "publishable", "pub", "pubkey", "publickey"]);

/** "<x>_key" names that hold identifiers, not secrets. */
const NOT_SECRET_KEY = new Set(["primary", "foreign", "sort", "cache", "partition", "public", "publishable", "row", "hash", "idempotency", "unique", "lookup", "map", "dict", "object", "registry", "group", "i18n", "translation", "redis", "s3", "storage", "bucket", "file", "ssh", "gpg", "pgp", "dedup", "composite", "natural", "surrogate", "shard", "routing", "event", "message", "query", "index", "search", "react", "list", "item", "node", "entry", "record", "table", "column", "field", "config", "setting", "settings", "env", "name", "type", "value", "data", "state", "store", "local", "session_storage", "host", "display", "label", "menu", "button", "hot", "short", "shortcut", "keyboard", "press", "up", "down"]);

/** Is this identifier (`DB_PASSWORD`, `apiKey`, `client-secret`, `AWSToken`) a password or key name? */
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

/** Words of an identifier: acronyms split from the next word (`AWSToken` → aws, token). */
export function nameWords(name: string): string[] {
  return name
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((s) => s.length > 0);
}

function classifyNameUncached(name: string): NameKind {
  if (name.length > 64) return null;
  const segs = nameWords(name);
  if (segs.length === 0) return null;
  for (const s of segs) if (PUBLIC_WORDS.has(s)) return null;
  let last = segs[segs.length - 1]!;
  if (/^\d+$/.test(last) && segs.length > 1) {
    segs.pop();
    last = segs[segs.length - 1]!;
  }
  // "token1", "password2": numbered keys.
  const numbered = /^([a-z]+)\d+$/.exec(last);
  if (numbered) last = segs[segs.length - 1] = numbered[1]!;
  const prev = segs.length > 1 ? segs[segs.length - 2]! : "";
  if (PASSWORD_WORDS.has(last)) {
    // "pass" alone is too common a word ("pass: true"); accept it as a suffix of a name.
    if ((last === "pass" || last === "pw") && segs.length === 1) return null;
    return "PASSWORD";
  }
  const joined = segs.join("");
  if (/(?:password|wachtwoord|passwd)$/.test(joined)) return "PASSWORD";
  if (KEY_LAST.has(last)) {
    if (last === "token" && NOT_SECRET_TOKEN.has(prev)) return null;
    return "API_KEY";
  }
  if ((last === "key" || last === "keys") && (KEY_QUALIFIER.has(prev) || (prev !== "" && !NOT_SECRET_KEY.has(prev)))) return "API_KEY";
  if (/(?:apikey|api_key|secretkey|accesskey|authtoken|accesstoken)$/.test(joined)) return "API_KEY";
  return null;
}

// ---------------------------------------------------------------- values

/** `config.password`, `os.environ["X"]`, `getSecret()`: expressions, not literals. */
const DOTTED_OR_CALL = /^(?:[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[[^\]]*\])+|[\w.$]+\(.*)$/;
/** `user_pass`, `dbPassword`, `secret`: could be a variable name. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** Variable-looking identifiers: camelCase, snake_case, PascalCase words, or naming a secret. */
const VARIABLE_LIKE = /^(?:[a-z]+_[a-z_]+|[a-z]+(?:[A-Z][a-z]+)+|[A-Z][a-z]+(?:[A-Z][a-z]+)+|[A-Z]+_[A-Z_]+)$/;
/** Words that name a secret inside a variable name without digits (`dbPass`, `SECRETVAL`). */
const NAMES_A_SECRET = /pass|pwd|secret|token|key|auth|cred|input|arg|param|value|env/i;
const CODE_WORDS = /\b(?:const|let|var|val|def|self|this|final|private|public|static|my|return|if|while|function)\b|[$(]/;
const TYPE_WORDS = new Set(["string", "String", "str", "char", "bytes", "byte", "Secret", "SecretStr", "SecureString", "NSString", "text", "var", "let", "const", "val", "auto"]);
const NOT_A_VALUE = /^(?:true|false|yes|no|on|off|required|optional|string|str|int|number|bool|boolean|any|object|varchar|text|hidden|masked|redacted|none|empty|unset|n\/a|null|nil|undefined)$/i;
const AUTH_SCHEMES = /^(?:bearer|basic|token|bot|digest|apikey|api-key)$/i;

const MAX_VALUE = 512;
/** Look-around windows of the line-level checks (bounded: never to the start or end of a long line). */
const LINE_WINDOW = 200;

function isNameChar(c: number): boolean {
  return isWordChar(c) || c === 46 || c === 45;
}
function isQuote(c: number): boolean {
  return c === 34 || c === 39 || c === 96;
}

/**
 * Reports `value` (text[vs, ve)) assigned to a name of `kind` if it passes that kind's
 * checks. `quoted`: a string literal (quotes carry intent); `strong`: the syntax alone says
 * credential (a header, a flag, a URL, an XML element).
 */
function emitSecret(kind: "PASSWORD" | "API_KEY", value: string, vs: number, ve: number, quoted: boolean, strong: boolean, sink: Sink): boolean {
  if (isPlaceholderSecret(value)) return false;
  const c0 = value.charCodeAt(0);
  if (c0 === 123 || c0 === 91 || c0 === 40 || c0 === 36 /* { [ ( $ */) return false;
  if (kind === "PASSWORD") {
    if (value.length < 4 || value.length > 128) return false;
    if (/^\d{1,4}$/.test(value) || /^[*•·xX#.]+$/.test(value)) return false;
    if (PLACEHOLDER_WORDS.test(value) && /^[A-Za-z_ -]+$/.test(value)) return false;
    sink.out.push({ type: "PASSWORD", start: vs, end: ve, value, maskedValue: maskPassword(value), confidence: quoted || strong ? 0.85 : 0.75 });
    return true;
  }
  // API_KEY: a long, high-entropy token. A quoted literal assigned to a key name says
  // "secret" by itself: any printable characters, one character class is enough.
  if (value.length < (quoted ? 12 : 16) || value.length > MAX_VALUE) return false;
  if (!(quoted ? /^[\x21-\x7e]+$/ : /^[A-Za-z0-9+/=_\-.~:]+$/).test(value)) return false;
  if (value.includes("://") || /^[a-z]+(?:[._-][a-z]+)+$/.test(value) || /^[A-Z]+(?:_[A-Z]+)+$/.test(value)) return false;
  if (isPlaceholderToken(value)) return false;
  const h = shannonEntropy(value);
  const classes = (/[a-z]/.test(value) ? 1 : 0) + (/[A-Z]/.test(value) ? 1 : 0) + (/\d/.test(value) ? 1 : 0) + (/[^A-Za-z0-9]/.test(value) ? 1 : 0);
  if (quoted ? h < 3 : h < 3.2 || classes < 2) return false;
  sink.out.push({ type: "API_KEY", start: vs, end: ve, value, maskedValue: maskApiKey(value), confidence: h >= 4 || strong ? 0.85 : 0.7 });
  return true;
}

/** `Basic <base64 of user:password>`: the password, if the credentials decode to one. */
function basicCredentials(b64: string): string | null {
  if (b64.length < 8 || b64.length > 512 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return null;
  const decoded = Buffer.from(b64, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 1 || colon === decoded.length - 1 || !/^[\x20-\x7e]+$/.test(decoded)) return null;
  return decoded.slice(colon + 1);
}

/**
 * An HTTP authorization value (`Bearer <token>`, `Basic <base64>`) at text[vs, ve): the
 * credential after the scheme. Returns the end, or -1 when it holds none.
 */
function emitAuthorization(text: string, vs: number, ve: number, sink: Sink): number {
  let p = vs;
  while (p < ve && !isSpace(text.charCodeAt(p))) p++;
  const scheme = text.slice(vs, p);
  let cs = p;
  while (cs < ve && isSpace(text.charCodeAt(cs))) cs++;
  if (cs >= ve) return -1;
  let ce = cs;
  while (ce < ve && !isSpace(text.charCodeAt(ce))) ce++;
  const cred = text.slice(cs, ce);
  if (!AUTH_SCHEMES.test(scheme)) {
    // A bare token: `Authorization: <token>`.
    if (p === ve) emitSecret("API_KEY", scheme, vs, ve, false, true, sink);
    return ve;
  }
  if (cred.startsWith("eyJ")) return ce; // the JWT finder reports it
  if (/^basic$/i.test(scheme)) {
    const pw = basicCredentials(cred);
    if (pw !== null && sink.want.has("PASSWORD") && !isPlaceholderSecret(pw)) {
      sink.out.push({ type: "PASSWORD", start: cs, end: ce, value: pw, maskedValue: maskPassword(pw), confidence: 0.85 });
    }
    return ce;
  }
  if (sink.want.has("API_KEY")) emitSecret("API_KEY", cred, cs, ce, false, true, sink);
  return ce;
}

/** Reads an identifier ending at `end` (exclusive), at most 64 characters. */
function nameStartBefore(text: string, end: number): number {
  let j = end - 1;
  const min = Math.max(0, end - 64);
  while (j >= min && isNameChar(text.charCodeAt(j))) j--;
  return j + 1;
}

/** `curl -u user:pass`, `--user user:pass`: the option before an identifier at `s`. */
function isUserOption(text: string, s: number): boolean {
  let j = s;
  if (j > 0 && (text.charCodeAt(j - 1) === 34 || text.charCodeAt(j - 1) === 39)) j--;
  if (j >= 2 && text.charCodeAt(j - 1) === 117 && text.charCodeAt(j - 2) === 45 && (j < 3 || !isNameChar(text.charCodeAt(j - 3)))) return true; // -uuser
  while (j > 0 && j > s - 3 && (isSpace(text.charCodeAt(j - 1)) || text.charCodeAt(j - 1) === 61)) j--;
  if (j === s) return false;
  if (j >= 2 && text.charCodeAt(j - 1) === 117 && text.charCodeAt(j - 2) === 45 && (j < 3 || !isNameChar(text.charCodeAt(j - 3)))) return true; // -u
  return j >= 6 && text.startsWith("--user", j - 6);
}

/**
 * Handles an assignment or comparison operator at [o, oe) (`=`, `:`, `=>`, `:=`, `?=`,
 * `::=`, `.=`, `+=`, `==`, `===`, `!=`): reads the name before it and the value after it
 * (or, for `"literal" == name`, the other way round). Returns where scanning may resume:
 * past a value it read, so the operators inside one long value are not read again.
 */
export function scanAssignment(text: string, o: number, oe: number, sink: Sink): number {
  const len = text.length;
  const op = text.charCodeAt(o);
  const compare = oe - o >= 2 && text.charCodeAt(o + 1) === 61 && (op === 61 || op === 33);
  // name
  let j = o - 1;
  // Compound operators: `?=`, `+=`, `.=`, `|=`, `::=`.
  if (op === 61 && !compare) {
    let k = 0;
    while (j >= 0 && k < 2 && (text.charCodeAt(j) === 63 || text.charCodeAt(j) === 43 || text.charCodeAt(j) === 46 || text.charCodeAt(j) === 124 || text.charCodeAt(j) === 58)) {
      j--;
      k++;
    }
  }
  let k = 0;
  while (j >= 0 && k < 3 && isSpace(text.charCodeAt(j))) {
    j--;
    k++;
  }
  let quotedName = false;
  if (j >= 0) {
    const c = text.charCodeAt(j);
    if (isQuote(c)) {
      if (compare) return scanReverseComparison(text, j, oe, sink);
      j--;
      quotedName = true;
    } else if (c === 93 /* ] */) {
      // `env["API_TOKEN"] = ...`, `$_ENV['DB_PASSWORD'] = ...`; `char password[] = ...`.
      if (j >= 1 && isQuote(text.charCodeAt(j - 1))) {
        j -= 2;
        quotedName = true;
      } else if (j >= 1 && text.charCodeAt(j - 1) === 91) j -= 2;
      else return o + 1;
    }
  }
  let nameEnd = j + 1;
  let nameStart = nameStartBefore(text, nameEnd);
  if (nameStart >= nameEnd) return o + 1;
  let name = text.slice(nameStart, nameEnd);
  // Go `var dbPassword string = "..."`, TypeScript `password: string = "..."`.
  if (TYPE_WORDS.has(name) && op === 61) {
    let t = nameStart - 1;
    let sp = 0;
    while (t >= 0 && sp < 3 && isSpace(text.charCodeAt(t))) {
      t--;
      sp++;
    }
    if (t >= 0 && text.charCodeAt(t) === 58) {
      t--;
      while (t >= 0 && isSpace(text.charCodeAt(t))) t--;
    }
    if (t >= 0 && t < nameStart - 1) {
      nameEnd = t + 1;
      nameStart = nameStartBefore(text, nameEnd);
      if (nameStart >= nameEnd) return o + 1;
      name = text.slice(nameStart, nameEnd);
    }
  }
  let kind = classifyName(name);
  // `if (pass == "...")`: a bare "pass" compared with a literal is a password.
  if (kind === null && compare && /^(?:pass|pw)$/i.test(name)) kind = "PASSWORD";
  // .NET configuration: `<add key="ApiKey" value="..." />`.
  if (kind === null && name.length === 5 && op === 61 && name.toLowerCase() === "value") kind = attributeKeyKind(text, nameStart);
  let userOption = false;
  if (kind === null && op === 58 && oe === o + 1 && nameStart >= 3 && sink.want.has("PASSWORD") && isUserOption(text, nameStart)) {
    kind = "PASSWORD";
    userOption = true;
  }
  if (kind === null || !sink.want.has(kind)) return o + 1;

  // value
  let v = oe;
  k = 0;
  while (v < len && k < 3 && isSpace(text.charCodeAt(v))) {
    v++;
    k++;
  }
  if (v >= len) return o + 1;
  // Objective-C `@"..."`, Python `r"..."`/`b"..."`.
  if (v + 1 < len && isQuote(text.charCodeAt(v + 1))) {
    const pre = text.charCodeAt(v);
    if (pre === 64 || pre === 114 || pre === 98 || pre === 117) v++;
  }
  const q = text.charCodeAt(v);
  let vs: number;
  let ve: number;
  let quoted = false;
  if (isQuote(q)) {
    vs = v + 1;
    ve = vs;
    const vmax = Math.min(len, vs + MAX_VALUE);
    while (ve < vmax) {
      const c = text.charCodeAt(ve);
      if (c === q || c === 10 || c === 13) break;
      if (c === 92 /* \ */) ve++;
      ve++;
    }
    if (ve >= vmax || text.charCodeAt(ve) !== q) return o + 1;
    quoted = true;
  } else {
    if (compare) return o + 1; // `pass == other`: not a literal
    // `os.environ['X']`, `config.get("x")`, `getenv("X")`: an expression, not a literal.
    if (/^[A-Za-z_$][\w$.]{0,60}\s{0,3}[[(]/.test(text.slice(v, v + 80))) return o + 1;
    // In a URL query ("?user=a&password=b") '&' ends the value; elsewhere it may be part of it.
    const before = nameStart > 0 ? text.charCodeAt(nameStart - 1) : 0;
    const inQuery = before === 63 || before === 38;
    vs = v;
    ve = vs;
    const vmax = Math.min(len, vs + MAX_VALUE);
    while (ve < vmax) {
      const c = text.charCodeAt(ve);
      if (c <= 32 || c === 0xa0 || c === 59 || c === 44 || c === 34 || c === 39 || c === 60 || c === 41 || c === 125 || c === 93) break;
      if (c === 38 /* & */ && inQuery) break;
      ve++;
    }
    // A sentence full stop is not part of the password.
    while (ve > vs && (text.charCodeAt(ve - 1) === 46 || text.charCodeAt(ve - 1) === 58)) ve--;
  }
  if (ve <= vs) return o + 1;
  const resume = quoted ? ve + 1 : ve;

  // Authorization headers: the credential follows the scheme.
  if (/^(?:authorization|proxy_?authorization|auth_?header)$/i.test(name.replace(/-/g, "_"))) {
    // Unquoted: the scheme's credential follows on the line.
    let e = ve;
    if (!quoted) {
      const lim = Math.min(len, vs + MAX_VALUE);
      let sp = 0;
      while (e < lim && text.charCodeAt(e) !== 10 && text.charCodeAt(e) !== 13 && text.charCodeAt(e) !== 34 && text.charCodeAt(e) !== 39) {
        if (isSpace(text.charCodeAt(e)) && ++sp > 1) break;
        e++;
      }
    }
    const end = emitAuthorization(text, vs, e, sink);
    return Math.max(resume, end);
  }
  const value = text.slice(vs, ve);

  if (userOption) {
    emitSecret("PASSWORD", value, vs, ve, quoted, true, sink);
    return resume;
  }

  if (!quoted) {
    if (DOTTED_OR_CALL.test(value)) return resume;
    // Code ("password = userPass", "token = auth_token;") assigns variables; config
    // ("DB_PASSWORD=s3cret", "password = Zomer2024", "wachtwoord: Zomer2024") holds literals.
    const lineStart = lineStartWithin(text, nameStart);
    const linePrefix = text.slice(lineStart, nameStart);
    const lineEnd = lineEndWithin(text, ve);
    const rest = text.slice(ve, lineEnd).trim();
    if (IDENTIFIER.test(value)) {
      const spaced = o > 0 && isSpace(text.charCodeAt(o - 1)) && op === 61;
      const lowerWord = /^[a-z]+$/.test(value) && spaced;
      const variable = VARIABLE_LIKE.test(value) || (!/\d/.test(value) && NAMES_A_SECRET.test(value));
      if (CODE_WORDS.test(linePrefix) || variable || lowerWord) return resume;
      if (value.toLowerCase() === name.toLowerCase()) return resume;
    }
    // In prose an unquoted value must end its line or look like a secret.
    const endsLine = rest === "" || /^[;,.)]?\s*(?:(?:#|\/\/).*)?$/.test(rest);
    const proseLike = op === 58 || vs > oe;
    if (!endsLine && proseLike && /^[A-Za-z\u00c0-\u024f][a-z\u00e0-\u024f]*$/.test(value)) return resume;
    if (NOT_A_VALUE.test(value)) return resume;
  }
  emitSecret(kind, value, vs, ve, quoted || quotedName, false, sink);
  return resume;
}

/** In `<add key="ApiKey" value="...">`, the kind of the key named before `value` (same tag). */
function attributeKeyKind(text: string, valueAt: number): NameKind {
  const min = Math.max(0, valueAt - 160);
  let q = valueAt - 1;
  while (q >= min && text.charCodeAt(q) !== 60 && text.charCodeAt(q) !== 10) q--;
  if (q < min || text.charCodeAt(q) !== 60) return null;
  const m = /\b(?:key|name)\s*=\s*["']([^"']{1,64})["']/i.exec(text.slice(q, valueAt));
  return m ? classifyName(m[1]!) : null;
}

/** `"literal" == password`, `'x' === pwd`: the literal before a comparison with a secret name. */
function scanReverseComparison(text: string, closeQuote: number, oe: number, sink: Sink): number {
  const q = text.charCodeAt(closeQuote);
  let s = closeQuote - 1;
  const min = Math.max(0, closeQuote - MAX_VALUE);
  while (s >= min && text.charCodeAt(s) !== q && text.charCodeAt(s) !== 10) s--;
  if (s < min || text.charCodeAt(s) !== q) return oe;
  let n = oe;
  while (n < text.length && n < oe + 3 && isSpace(text.charCodeAt(n))) n++;
  let ne = n;
  while (ne < text.length && ne < n + 64 && isNameChar(text.charCodeAt(ne))) ne++;
  if (ne === n || (ne < text.length && (text.charCodeAt(ne) === 40 || text.charCodeAt(ne) === 46))) return oe;
  const name = text.slice(n, ne);
  const kind = classifyName(name) ?? (/^(?:pass|pw)$/i.test(name) ? "PASSWORD" : null);
  if (kind === null || !sink.want.has(kind)) return oe;
  emitSecret(kind, text.slice(s + 1, closeQuote), s + 1, closeQuote, true, false, sink);
  return ne;
}

function lineStartWithin(text: string, i: number): number {
  const min = Math.max(0, i - LINE_WINDOW);
  let j = i - 1;
  while (j >= min && text.charCodeAt(j) !== 10) j--;
  return j + 1;
}
function lineEndWithin(text: string, i: number): number {
  const max = Math.min(text.length, i + LINE_WINDOW);
  let j = i;
  while (j < max && text.charCodeAt(j) !== 10 && text.charCodeAt(j) !== 13) j++;
  return j;
}

/**
 * `"name", "value"` pairs: `System.setProperty("db.password", "...")`,
 * `put("api_token", "...")`, `setenv("SECRET", "...")`. `c` is the index of the ','
 * right after the name's closing quote.
 */
export function scanQuotedPair(text: string, c: number, sink: Sink): number {
  const q = text.charCodeAt(c - 1);
  const nameEnd = c - 1;
  let s = nameEnd - 1;
  const min = Math.max(0, nameEnd - 64);
  while (s >= min && isNameChar(text.charCodeAt(s))) s--;
  if (s < 0 || text.charCodeAt(s) !== q || s + 1 >= nameEnd) return c + 1;
  const kind = classifyName(text.slice(s + 1, nameEnd));
  if (kind === null || !sink.want.has(kind)) return c + 1;
  let v = c + 1;
  while (v < text.length && v < c + 4 && isSpace(text.charCodeAt(v))) v++;
  const vq = text.charCodeAt(v);
  if (!isQuote(vq)) return c + 1;
  let ve = v + 1;
  const vmax = Math.min(text.length, ve + MAX_VALUE);
  while (ve < vmax && text.charCodeAt(ve) !== vq && text.charCodeAt(ve) !== 10) ve++;
  if (ve >= vmax || text.charCodeAt(ve) !== vq) return c + 1;
  emitSecret(kind, text.slice(v + 1, ve), v + 1, ve, true, false, sink);
  return ve + 1;
}

/**
 * XML elements named like secrets: `<password>...</password>`, `<apiToken>...</apiToken>`,
 * `<ns:Password>...</ns:Password>`. `p` is the index of "</".
 */
export function scanXmlElement(text: string, p: number, sink: Sink): number {
  let e = p + 2;
  const emax = Math.min(text.length, p + 66);
  while (e < emax && (isNameChar(text.charCodeAt(e)) || text.charCodeAt(e) === 58)) e++;
  if (e === p + 2 || e >= text.length || text.charCodeAt(e) !== 62) return p + 2;
  const qname = text.slice(p + 2, e);
  const local = qname.slice(qname.lastIndexOf(":") + 1);
  const kind = classifyName(local);
  if (kind === null || !sink.want.has(kind)) return e + 1;
  // The opening tag ends at the nearest '>' before the value.
  let g = p - 1;
  const gmin = Math.max(0, p - MAX_VALUE);
  while (g >= gmin && text.charCodeAt(g) !== 62 && text.charCodeAt(g) !== 60) g--;
  if (g < gmin || text.charCodeAt(g) !== 62) return e + 1;
  // ... and starts with "<qname".
  let lt = g - 1;
  const ltmin = Math.max(0, g - 256);
  while (lt >= ltmin && text.charCodeAt(lt) !== 60 && text.charCodeAt(lt) !== 62) lt--;
  if (lt < ltmin || text.charCodeAt(lt) !== 60 || !text.startsWith(qname, lt + 1)) return e + 1;
  const after = text.charCodeAt(lt + 1 + qname.length);
  if (after !== 62 && !isSpace(after)) return e + 1;
  let vs = g + 1;
  let ve = p;
  while (vs < ve && /\s/.test(text[vs]!)) vs++;
  while (ve > vs && /\s/.test(text[ve - 1]!)) ve--;
  if (ve <= vs) return e + 1;
  let value = text.slice(vs, ve);
  if (value.startsWith("<![CDATA[") && value.endsWith("]]>")) {
    vs += 9;
    ve -= 3;
    value = text.slice(vs, ve);
  }
  emitSecret(kind, value, vs, ve, true, true, sink);
  return e + 1;
}

/**
 * A long command-line option named like a secret, followed by a space and its value:
 * `--password s3cret`, `--api-token abc...`. `p` is the index after "--".
 */
export function scanOption(text: string, p: number, sink: Sink): number {
  let e = p;
  const emax = Math.min(text.length, p + 40);
  while (e < emax && (isWordChar(text.charCodeAt(e)) || text.charCodeAt(e) === 45)) e++;
  if (e === p || e >= text.length || !isSpace(text.charCodeAt(e))) return e;
  const kind = classifyName(text.slice(p, e));
  if (kind === null || !sink.want.has(kind)) return e;
  let v = e + 1;
  const q = text.charCodeAt(v);
  let vs = v;
  let ve: number;
  let quoted = false;
  if (isQuote(q)) {
    vs = v + 1;
    ve = vs;
    const vmax = Math.min(text.length, vs + MAX_VALUE);
    while (ve < vmax && text.charCodeAt(ve) !== q && text.charCodeAt(ve) !== 10) ve++;
    if (ve >= vmax || text.charCodeAt(ve) !== q) return e;
    quoted = true;
  } else {
    ve = v;
    const vmax = Math.min(text.length, v + MAX_VALUE);
    while (ve < vmax && text.charCodeAt(ve) > 32 && text.charCodeAt(ve) !== 0xa0) ve++;
  }
  if (ve <= vs || text.charCodeAt(vs) === 45 /* another option */) return e;
  emitSecret(kind, text.slice(vs, ve), vs, ve, quoted, true, sink);
  return quoted ? ve + 1 : ve;
}

export { isSpace };

const PROSE_CONNECTOR = /^[ \t]{1,3}(?:is|was|to|wordt|luidt|ist|est)(?:[ \t]*:)?[ \t]{1,3}/i;

/**
 * Passwords in prose: "my password is hunter2", "het wachtwoord is Zomer2024!". `i` is the
 * end of a password word. Only values that look like passwords (letters and digits or
 * symbols, no sentence words) count.
 */
export function scanProsePassword(text: string, i: number, sink: Sink): number {
  if (i < text.length && isWordChar(text.charCodeAt(i))) return i;
  const m = PROSE_CONNECTOR.exec(text.slice(i, i + 16));
  if (!m) return i;
  let vs = i + m[0].length;
  const q = text.charCodeAt(vs);
  const quoted = isQuote(q);
  if (quoted) vs++;
  let ve = vs;
  const vmax = Math.min(text.length, vs + 64);
  while (ve < vmax && text.charCodeAt(ve) > 32 && text.charCodeAt(ve) !== 0xa0 && !(quoted && text.charCodeAt(ve) === q)) ve++;
  // A sentence's punctuation is not part of it.
  while (ve > vs && /[.,;:)!?]/.test(text[ve - 1]!) && !(ve === vs + 1)) {
    if (text[ve - 1] === "!" && ve - vs > 4 && /[A-Za-z0-9]/.test(text[ve - 2]!) && (ve >= text.length || /\s/.test(text[ve]!))) break;
    ve--;
  }
  if (ve - vs < 6) return ve;
  const value = text.slice(vs, ve);
  // Letters with digits or symbols: "hunter2", "Zomer2024!"; not "required", "incorrect".
  if (!/[A-Za-z]/.test(value) || !/[0-9!@#$%^&*_+=?~-]/.test(value) || /^[A-Za-z]+[-'][A-Za-z]+$/.test(value)) return ve;
  if (sink.want.has("PASSWORD")) emitSecret("PASSWORD", value, vs, ve, quoted, false, sink);
  return ve;
}

/** Commands whose `-p` takes a password (elsewhere `-p` is often a port). */
const P_FLAG_COMMANDS = /\b(?:sshpass|docker\s+login|podman\s+login|helm\s+registry\s+login|mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b/;

/**
 * `sshpass -p 'secret'`, `docker login -u u -p secret`, `mysql -u root -psecret`. `h` is the
 * index of the '-' of "-p".
 */
export function scanShortPasswordOption(text: string, h: number, sink: Sink): number {
  const lineStart = lineStartWithin(text, h);
  const cmd = P_FLAG_COMMANDS.exec(text.slice(lineStart, h));
  if (!cmd) return h + 2;
  const mysql = cmd[0].startsWith("m");
  let v = h + 2;
  const glued = v < text.length && !isSpace(text.charCodeAt(v));
  // `mysql -p` alone prompts; its password is only ever glued to the flag.
  if (mysql !== glued) return h + 2;
  if (!glued) v++;
  const q = text.charCodeAt(v);
  const quoted = isQuote(q);
  const vs = quoted ? v + 1 : v;
  let ve = vs;
  const vmax = Math.min(text.length, vs + 128);
  while (ve < vmax && (quoted ? text.charCodeAt(ve) !== q && text.charCodeAt(ve) !== 10 : text.charCodeAt(ve) > 32)) ve++;
  if (ve <= vs || (quoted && text.charCodeAt(ve) !== q)) return h + 2;
  if (sink.want.has("PASSWORD")) emitSecret("PASSWORD", text.slice(vs, ve), vs, ve, quoted, true, sink);
  return quoted ? ve + 1 : ve;
}
