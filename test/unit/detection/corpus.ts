/**
 * A generated, labelled corpus: planted valid values in Dutch and English prose, code and
 * config, beside decoys that fail checksums or only look like PII. Seeded, so a failure
 * reproduces. Valid values are built from their definitions (11-check, Luhn, mod-97,
 * numbering-plan ranges), not from the engine's finders.
 */
import type { FindingType } from "../../../src/modules/detection/index.js";

export interface Planted {
  type: FindingType;
  line: number;
  raw: string;
}
export interface Corpus {
  text: string;
  planted: Planted[];
  /** Lines holding only decoys (for reporting). */
  decoyLines: number;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(readonly rnd: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }
  digits(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += String(this.int(0, 9));
    return s;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  chars(n: number, alphabet: string): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
}

const UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL = ALNUM + "-_";

// ------------------------------------------------------------------ valid values

export function bsnCheckOk(d: string): boolean {
  let s = 0;
  for (let i = 0; i < 8; i++) s += (9 - i) * Number(d[i]);
  s -= Number(d[8]);
  return s % 11 === 0 && d !== "000000000";
}

export function makeBsn(g: Gen): string {
  for (;;) {
    const d8 = String(g.int(1, 9)) + g.digits(7);
    let s = 0;
    for (let i = 0; i < 8; i++) s += (9 - i) * Number(d8[i]);
    const d9 = s % 11;
    if (d9 <= 9) return d8 + d9;
  }
}

export function formatBsn(g: Gen, d: string): string {
  switch (g.int(0, 3)) {
    case 0:
    case 1:
      return d;
    case 2:
      return `${d.slice(0, 4)}.${d.slice(4, 6)}.${d.slice(6)}`;
    default: {
      const sep = g.pick([" ", "."]);
      return `${d.slice(0, 3)}${sep}${d.slice(3, 6)}${sep}${d.slice(6)}`;
    }
  }
}

export function luhnDigit(body: string): string {
  let sum = 0;
  let dbl = true;
  for (let i = body.length - 1; i >= 0; i--) {
    let d = Number(body[i]);
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return String((10 - (sum % 10)) % 10);
}

export function makeCard(g: Gen): string {
  const kind = g.int(0, 7);
  const [prefix, len] = (
    [
      [`4${g.digits(5)}`, 16],
      [`5${g.int(1, 5)}${g.digits(4)}`, 16],
      [`${g.int(2221, 2720)}${g.digits(2)}`, 16],
      [`3${g.pick(["4", "7"])}${g.digits(4)}`, 15],
      [`6011${g.digits(2)}`, 16],
      [`36${g.digits(4)}`, 14],
      [`${g.int(3528, 3589)}${g.digits(2)}`, 16],
      [`4${g.digits(5)}`, 13],
    ] as const
  )[kind]!;
  const body = prefix + g.digits(len - prefix.length - 1);
  return body + luhnDigit(body);
}

export function formatCard(g: Gen, d: string): string {
  const style = g.int(0, 2);
  if (style === 0 || d.length === 13) return d;
  const sep = style === 1 ? " " : "-";
  if (d.length === 15) return [d.slice(0, 4), d.slice(4, 10), d.slice(10)].join(sep);
  if (d.length === 14) return [d.slice(0, 4), d.slice(4, 10), d.slice(10)].join(sep);
  return d.match(/.{1,4}/g)!.join(sep);
}

function mod97(s: string): number {
  let r = 0;
  for (const ch of s) {
    const v = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const c of v) r = (r * 10 + Number(c)) % 97;
  }
  return r;
}

export function ibanFrom(cc: string, bban: string): string {
  const check = 98 - mod97(bban + cc + "00");
  return cc + String(check).padStart(2, "0") + bban;
}

export function makeIban(g: Gen): string {
  switch (g.int(0, 4)) {
    case 0:
    case 1:
      return ibanFrom("NL", g.pick(["ABNA", "RABO", "INGB", "TRIO", "KNAB", "SNSB", "ASNB", "BUNQ"]) + g.digits(10));
    case 2:
      return ibanFrom("DE", g.digits(18));
    case 3: {
      const acc = g.digits(10);
      const chk = Number(acc) % 97 || 97;
      return ibanFrom("BE", acc + String(chk).padStart(2, "0"));
    }
    default:
      return ibanFrom("GB", g.chars(4, UP) + g.digits(14));
  }
}

export function formatIban(g: Gen, iban: string): string {
  const r = g.rnd();
  if (r < 0.45) return iban.match(/.{1,4}/g)!.join(" ");
  if (r < 0.95) return iban;
  return iban.toLowerCase();
}

export function makePhone(g: Gen): string {
  const k = g.int(0, 13);
  const mob = `6${g.int(1, 5)}${g.digits(7)}`; // 06-1x .. 06-5x are mobile ranges
  const area = g.pick(["20", "10", "30", "70", "40", "50", "43", "45", "53", "71", "72", "73", "76", "77", "79", "24", "26"]);
  const land = `${area}${g.int(2, 9)}${g.digits(6)}`;
  switch (k) {
    case 0:
      return `0${mob.slice(0, 1)}-${mob.slice(1)}`;
    case 1:
      return `0${mob.slice(0, 1)} ${mob.slice(1, 5)} ${mob.slice(5)}`;
    case 2:
      return `0${mob}`;
    case 3:
      return `+31 ${mob.slice(0, 1)} ${mob.slice(1)}`;
    case 4:
      return `+31${mob}`;
    case 5:
      return `+31 (0)${mob.slice(0, 1)} ${mob.slice(1, 5)} ${mob.slice(5)}`;
    case 6:
      return `0031 ${mob.slice(0, 1)} ${mob.slice(1)}`;
    case 7:
      return `0${land.slice(0, 2)}-${land.slice(2)}`;
    case 8:
      return `0${land.slice(0, 2)} ${land.slice(2, 5)} ${land.slice(5)}`;
    case 9:
      return `(0${land.slice(0, 2)}) ${land.slice(2, 5)} ${land.slice(5)}`;
    case 10:
      return `+44 20 7${g.digits(3)} ${g.digits(4)}`;
    case 11:
      return `+49 30 ${g.int(2, 9)}${g.digits(7)}`;
    case 12:
      return `+1 ${g.pick(["415", "212", "646", "312"])} ${g.int(2, 9)}${g.digits(2)} ${g.digits(4)}`;
    default:
      return `+31 6 ${mob.slice(1, 3)} ${mob.slice(3, 5)} ${mob.slice(5, 7)} ${mob.slice(7)}`;
  }
}

const FIRST = ["jan", "piet", "sanne", "emma", "daan", "lotte", "sem", "julia", "noah", "tess", "john", "mary", "ahmed", "fatima", "kees", "anouk"];
const LAST = ["jansen", "de-vries", "bakker", "visser", "smit", "meijer", "de.boer", "mulder", "bos", "vos", "peters", "hendriks", "smith", "yilmaz"];
const DOMAINS = ["example.com", "gmail.com", "hotmail.nl", "ziggo.nl", "kpn.nl", "outlook.com", "bedrijf.nl", "uni-utrecht.nl", "mail.example.org", "company.co.uk", "startup.io", "gemeente.amsterdam"];

export function makeEmail(g: Gen): string {
  const f = g.pick(FIRST);
  const l = g.pick(LAST);
  const local = g.pick([`${f}.${l}`, `${f}${g.int(1, 99)}`, `${f[0]}.${l}`, `${f}_${l}`, `${f}+news`, `${f.toUpperCase()}.${l}`, `info`, `${f}`]);
  return `${local}@${g.pick(DOMAINS)}`;
}

export function makeIp(g: Gen): string {
  const k = g.int(0, 5);
  if (k === 0) return `192.168.${g.int(0, 255)}.${g.int(1, 254)}`;
  if (k === 1) return `10.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(1, 254)}`;
  if (k <= 3) return `${g.int(11, 223)}.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(1, 254)}`;
  if (k === 4) return `2001:db8:${g.int(0, 65535).toString(16)}::${g.int(1, 65535).toString(16)}`;
  return Array.from({ length: 8 }, () => g.int(0, 65535).toString(16)).join(":");
}

function b64url(s: string): string {
  return Buffer.from(s).toString("base64url");
}

export function makeJwt(g: Gen): string {
  const h = b64url(JSON.stringify({ alg: g.pick(["HS256", "RS256", "ES256"]), typ: "JWT" }));
  const p = b64url(JSON.stringify({ sub: g.digits(8), name: g.pick(FIRST), iat: 1700000000 + g.int(0, 1e6) }));
  return `${h}.${p}.${g.chars(43, B64URL)}`;
}

export function makeAws(g: Gen): string {
  return `${g.pick(["AKIA", "ASIA"])}${g.chars(16, UP + "234567")}`;
}

export function makeProviderKey(g: Gen): string {
  switch (g.int(0, 7)) {
    case 0:
      return `sk_live_${g.chars(24, ALNUM)}`;
    case 1:
      return `ghp_${g.chars(36, ALNUM)}`;
    case 2:
      return `github_pat_${g.chars(22, ALNUM)}_${g.chars(59, ALNUM)}`;
    case 3:
      return `xoxb-${g.digits(11)}-${g.digits(12)}-${g.chars(24, ALNUM)}`;
    case 4:
      return `AIza${g.chars(35, B64URL)}`;
    case 5:
      return `glpat-${g.chars(20, ALNUM + "-_")}`;
    case 6:
      return `sk-proj-${g.chars(48, ALNUM)}`;
    default:
      return `sk-${g.chars(48, ALNUM)}`;
  }
}

export function makeSecretToken(g: Gen): string {
  return g.chars(g.int(24, 48), ALNUM + (g.chance(0.3) ? "+/" : ""));
}

export function makePassword(g: Gen): string {
  return g.pick([
    () => `${g.pick(["Welkom", "Zomer", "Winter", "Summer", "Hunter", "Admin", "Voetbal"])}${g.int(1, 2025)}${g.pick(["!", "#", "", "?"])}`,
    () => g.chars(g.int(10, 20), ALNUM + "!@#%^&*"),
    () => `${g.pick(FIRST)}${g.pick(["_", "."])}${g.int(10, 99)}${g.pick(LAST).replace(/[.-]/g, "")}`,
  ])();
}

export function makePrivateKey(g: Gen): string {
  const label = g.pick(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"]);
  const lines = Array.from({ length: g.int(3, 8) }, () => g.chars(64, ALNUM + "+/"));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
}

// ------------------------------------------------------------------ decoys

function failingBsn(g: Gen): string {
  for (;;) {
    const d = String(g.int(1, 9)) + g.digits(8);
    if (!bsnCheckOk(d)) return d;
  }
}
function failingCard(g: Gen): string {
  const c = makeCard(g);
  const last = (Number(c[c.length - 1]) + g.int(1, 9)) % 10;
  return c.slice(0, -1) + last;
}
function failingIban(g: Gen): string {
  const iban = makeIban(g);
  const i = g.int(4, iban.length - 1);
  const ch = iban[i]!;
  const rep = /\d/.test(ch) ? String((Number(ch) + g.int(1, 9)) % 10) : ch === "A" ? "B" : "A";
  return iban.slice(0, i) + rep + iban.slice(i + 1);
}

export function makeDecoy(g: Gen): string {
  const k = g.int(0, 29);
  switch (k) {
    case 0:
      return `${g.pick(["Ordernummer", "Order number", "Bestelnummer", "order #"])}: ${failingBsn(g)}`;
    case 1:
      return `${g.pick(["Factuur", "Invoice"])} ${g.int(2019, 2025)}-${g.digits(4)} ${g.pick(["is betaald", "was paid", "staat open"])}`;
    case 2:
      return `${g.pick(["Track & trace", "Tracking code", "Zendingcode"])}: 3S${g.chars(4, UP)}${g.digits(9)}`;
    case 3:
      return `${g.pick(["Versie", "Version", "release"])} ${g.int(0, 9)}.${g.int(0, 20)}.${g.int(0, 30)}${g.pick(["", "." + g.int(0, 99) + "." + g.int(0, 9)])} ${g.pick(["is uit", "released", "bevat fixes"])}`;
    case 4:
      return `${g.pick(["Datum", "Date", "Geboren op", "Leverdatum"])}: ${g.pick([
        `${g.int(1, 28)}-${String(g.int(1, 12)).padStart(2, "0")}-${g.int(1950, 2025)}`,
        `${g.int(1950, 2025)}-${String(g.int(1, 12)).padStart(2, "0")}-${String(g.int(1, 28)).padStart(2, "0")}`,
        `${String(g.int(1, 28)).padStart(2, "0")}/${String(g.int(1, 12)).padStart(2, "0")}/${g.int(1950, 2025)}`,
        `${String(g.int(1, 28)).padStart(2, "0")}.${String(g.int(1, 12)).padStart(2, "0")}.${g.int(1950, 2025)}`,
      ])}`;
    case 5:
      return `${g.pick(["Totaal", "Amount", "Bedrag"])}: ${g.pick(["€ ", "EUR ", "$"])}${g.int(1, 999)}.${g.digits(3)}${g.pick([",", "."])}${g.digits(2)}`;
    case 6:
      return `${g.pick(["BSN", "Burgerservicenummer", "sofinummer"])} ${failingBsn(g)} ${g.pick(["is ongeldig", "klopt niet", "(typo)"])}`;
    case 7:
      return `${g.pick(["Kaart", "Card", "Creditcard"])}: ${formatCard(g, failingCard(g))}`;
    case 8:
      return `${g.pick(["IBAN", "Rekening"])}: ${formatIban(g, failingIban(g))}`;
    case 9:
      return `${g.pick(["upgrade naar", "bump to", "pinned"])} ${g.int(1, 9)}.${g.int(0, 9)}.${g.int(0, 9)}.${g.int(0, 9)}.${g.int(0, 9)}`;
    case 10:
      return `${g.pick(["netmask", "range"])} ${g.int(256, 999)}.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(0, 255)}`;
    case 11:
      return `${g.pick(["Om", "At", "Start"])} ${String(g.int(0, 23)).padStart(2, "0")}:${String(g.int(0, 59)).padStart(2, "0")}:${String(g.int(0, 59)).padStart(2, "0")} ${g.pick(["begint de meeting", "the job ran"])}`;
    case 12:
      return `Postcode ${g.int(1000, 9999)} ${g.chars(2, UP)}, ${g.pick(["Amsterdam", "Utrecht", "Zwolle"])}`;
    case 13:
      return `KvK ${g.digits(8)}, BTW NL${g.digits(9)}B01`;
    case 14:
      return `${g.pick(["Klantnummer", "Customer ID", "Referentie"])} ${g.digits(g.int(6, 8))}`;
    case 15:
      return `${g.pick(["Bel", "Tel"])}: 06-${g.digits(g.int(3, 5))} ${g.pick(["(onvolledig)", "ext."])}`;
    case 16:
      return `${g.pick(["password", "DB_PASSWORD", "wachtwoord"])}${g.pick(["=", ": ", " = "])}${g.pick(['"${DB_PASSWORD}"', "<your-password>", '""', "********", "os.environ['DB_PASSWORD']", "process.env.DB_PASSWORD", "getPassword()", "{{ vault_password }}"])}`;
    case 17:
      return `${g.pick(["api_key", "token", "secret"])} = ${g.pick(['"YOUR_API_KEY"', 'os.getenv("API_KEY")', "config.apiKey", '"xxxxxxxxxxxxxxxxxxxx"', '"<token>"', "None"])}`;
    case 18:
      return `${g.pick(["Het task-force rapport", "Zie icon@2x.png", "Mail ons via het formulier", "user@localhost meldt zich"])} ${g.pick(["vandaag", "today"])}`;
    case 19:
      return `ISBN 978-${g.digits(2)}-${g.digits(3)}-${g.digits(4)}-${g.digits(1)}`;
    case 20:
      return `EAN ${g.digits(13)}`;
    case 21:
      return `${g.pick(["OID", "Sectie", "Artikel"])} ${g.int(1, 9)}.${g.int(1, 9)}.${g.int(1, 9)}.${g.int(1, 9)}`;
    case 22:
      return `Telefoon ${g.pick(["0612", "+31 6 12", "020 12"])} (${g.pick(["onvolledig", "incomplete"])})`;
    case 23:
      return `Artikelnummer ${g.digits(10)} ${g.pick(["op voorraad", "in stock"])}`;
    case 24:
      return `MAC ${Array.from({ length: 6 }, () => g.int(0, 255).toString(16).padStart(2, "0")).join(":")}`;
    case 25:
      return `header eyJ${g.chars(20, ALNUM)}.${g.chars(10, ALNUM)}.${g.chars(10, ALNUM)} ${g.pick(["is geen token", "is corrupt"])}`;
    case 26:
      return `${g.pick(["Ordernummer", "Factuurnummer", "Trackingnummer"])} ${makeBsn(g)}`;
    case 27:
      return `npm install lodash@${g.int(1, 4)}.${g.int(0, 17)}.${g.int(0, 21)} ${g.pick(["en", "and"])} react@${g.int(16, 19)}`;
    case 28:
      return `${g.pick(["Zaak", "Dossier"])} ${g.int(2000, 2025)}/${g.digits(6)}`;
    default:
      return `${g.pick(["Lengte", "Length"])}: ${g.int(10, 999)} cm, ${g.pick(["gewicht", "weight"])} ${g.int(1, 99)},${g.digits(1)} kg`;
  }
}

// ------------------------------------------------------------------ templates

type Maker = (g: Gen) => { type: FindingType; raw: string; shown: string };

const VALUE: Record<FindingType, Maker> = {
  BSN: (g) => {
    const d = makeBsn(g);
    return { type: "BSN", raw: d, shown: formatBsn(g, d) };
  },
  CREDIT_CARD: (g) => {
    const d = makeCard(g);
    return { type: "CREDIT_CARD", raw: d, shown: formatCard(g, d) };
  },
  IBAN: (g) => {
    const i = makeIban(g);
    return { type: "IBAN", raw: i, shown: formatIban(g, i) };
  },
  PHONE_NUMBER: (g) => {
    const p = makePhone(g);
    return { type: "PHONE_NUMBER", raw: p, shown: p };
  },
  EMAIL: (g) => {
    const e = makeEmail(g);
    return { type: "EMAIL", raw: e, shown: e };
  },
  IP_ADDRESS: (g) => {
    const ip = makeIp(g);
    return { type: "IP_ADDRESS", raw: ip, shown: g.chance(0.1) ? ip.toUpperCase() : ip };
  },
  AWS_ACCESS_KEY: (g) => {
    const k = makeAws(g);
    return { type: "AWS_ACCESS_KEY", raw: k, shown: k };
  },
  PRIVATE_KEY: (g) => {
    const k = makePrivateKey(g);
    return { type: "PRIVATE_KEY", raw: k, shown: k };
  },
  JWT: (g) => {
    const k = makeJwt(g);
    return { type: "JWT", raw: k, shown: k };
  },
  API_KEY: (g) => {
    const k = g.chance(0.6) ? makeProviderKey(g) : makeSecretToken(g);
    return { type: "API_KEY", raw: k, shown: k };
  },
  PASSWORD: (g) => {
    const k = makePassword(g);
    return { type: "PASSWORD", raw: k, shown: k };
  },
};

/** Sentences with a slot "{}" per type; context-free ones too, so bare values are tested. */
const TEMPLATES: Record<FindingType, readonly string[]> = {
  BSN: [
    "Mijn BSN is {}.",
    "Burgerservicenummer: {}",
    "BSN-nummer {} staat op het formulier",
    "Het sofinummer van de werknemer ({}) is gecontroleerd.",
    "Citizen service number (BSN): {}",
    "bsn={}",
    "De aanvrager, geboren in Utrecht, heeft {} als burgerservicenummer opgegeven.",
    "Graag uw BSN {} vermelden bij de aanvraag.",
    "Persoonsgegevens: naam J. Jansen, BSN {}, adres Dorpsstraat 1",
    "{} (BSN)",
    "Patient {} werd opgenomen op de afdeling.",
  ],
  CREDIT_CARD: [
    "Betaald met creditcard {} op de website.",
    "Card number: {}",
    "Kaartnummer {} vervalt 12/27",
    "Please charge my Visa {} for the order.",
    "cc={}",
    "De klant gaf {} als betaalkaart door.",
    "Payment details: {} exp 03/26 CVV on file",
    "Gebruik {} voor de betaling.",
  ],
  IBAN: [
    "Maak het bedrag over naar {} t.n.v. Stichting X.",
    "IBAN: {}",
    "Rekeningnummer {} (ABN AMRO)",
    "Please transfer to account {} before Friday.",
    "iban={}",
    "Onze bankrekening {} staat op de factuur.",
    "{}",
  ],
  PHONE_NUMBER: [
    "Bel mij op {} na 17:00.",
    "Tel: {}",
    "Telefoonnummer {}",
    "You can reach me at {} tomorrow.",
    "Mobiel: {} (werk)",
    "Phone {}",
    "Contact: {} of via de mail",
    "Neem contact op via {}.",
    "Voor vragen: {}",
  ],
  EMAIL: [
    "Stuur een mail naar {}.",
    "E-mail: {}",
    "Contact {} for details",
    "<{}>",
    "mailto:{}",
    "Van: Jan <{}>",
    "email={}",
    "Reply to {}, thanks!",
    "Het e-mailadres ({}) is gewijzigd.",
  ],
  IP_ADDRESS: [
    "Login vanaf IP {} geblokkeerd.",
    "Client IP: {}",
    "remote_addr={}",
    "The request came from {} at night.",
    "Server {} reageert niet.",
    "Verbinding met {} mislukt",
    "{} - - [10/Oct/2024:13:55:36 +0200] \"GET / HTTP/1.1\" 200",
    "X-Forwarded-For: {}",
  ],
  AWS_ACCESS_KEY: [
    "aws_access_key_id = {}",
    "AWS_ACCESS_KEY_ID={}",
    'accessKeyId: "{}",',
    "De key {} is per ongeluk gecommit.",
    "Found {} in the logs",
    "{}",
  ],
  PRIVATE_KEY: ["{}", "key: |\n{}", "Zie de sleutel hieronder:\n{}"],
  JWT: [
    "Authorization: Bearer {}",
    "token={}",
    'const jwt = "{}";',
    "Het token {} verloopt morgen.",
    "{}",
  ],
  API_KEY: [
    'api_key = "{}"',
    "API_KEY={}",
    'const apiKey = "{}";',
    "client_secret: {}",
    '"secret_key": "{}",',
    "STRIPE_KEY={}",
    "export AUTH_TOKEN='{}'",
  ],
  PASSWORD: [
    'password = "{}"',
    "DB_PASSWORD={}",
    "wachtwoord: {}",
    '"password": "{}",',
    "spring.datasource.password={}",
    "Password: {}",
    "$password = '{}';",
    "  db_pass: \"{}\"",
    "postgres://app_user:{}@db.internal:5432/app",
    "Server=db;User Id=sa;Password={};",
    'if (pwd == "{}") {',
    "mysql://root:{}@localhost/shop",
  ],
};

const FILLER = [
  "Hierbij stuur ik de gevraagde gegevens.",
  "Met vriendelijke groet, het team.",
  "Please find the details below.",
  "De vergadering is verplaatst naar dinsdag.",
  "Thanks for your patience; we will get back to you.",
  "Zie bijlage voor het volledige overzicht van 2024.",
  "In hoofdstuk 3 staat meer uitleg.",
  "The quarterly report covers Q1 and Q2 figures.",
  "Wij verwerken uw persoonsgegevens volgens de AVG.",
  "",
];

/**
 * Lines of prose with planted values (one or two per line, different types) and decoy
 * lines. `perType` values of each type are planted.
 */
export function generateCorpus(seed: number, perType = 120): Corpus {
  const g = new Gen(mulberry32(seed));
  const jobs: FindingType[] = [];
  for (const t of Object.keys(VALUE) as FindingType[]) for (let i = 0; i < (t === "PRIVATE_KEY" ? perType / 4 : perType); i++) jobs.push(t);
  // shuffle
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = g.int(0, i);
    [jobs[i], jobs[j]] = [jobs[j]!, jobs[i]!];
  }
  const lines: string[] = [];
  const planted: Planted[] = [];
  let decoyLines = 0;
  const plant = (type: FindingType): string => {
    const v = VALUE[type](g);
    const tpl = g.pick(TEMPLATES[type]);
    return tpl.replace("{}", v.shown) + "\u0000" + v.raw;
  };
  for (const type of jobs) {
    // Decoys and filler between planted lines.
    const nDecoys = g.int(0, 2);
    for (let i = 0; i < nDecoys; i++) {
      lines.push(g.chance(0.5) ? `${g.pick(FILLER)} ${makeDecoy(g)}`.trim() : makeDecoy(g));
      decoyLines++;
    }
    if (g.chance(0.2)) lines.push(g.pick(FILLER));
    const [sentence, raw] = plant(type).split("\u0000") as [string, string];
    let line = sentence;
    // Sometimes a second planted value (another type) or a decoy on the same line.
    let second: { type: FindingType; raw: string; at: "after" } | null = null;
    if (type !== "PRIVATE_KEY" && g.chance(0.2)) {
      const other = g.pick(["EMAIL", "PHONE_NUMBER", "IBAN", "BSN", "IP_ADDRESS"] as const);
      if (other !== type) {
        const [s2, r2] = plant(other).split("\u0000") as [string, string];
        line = `${line} ${g.pick(["En", "Also", "Verder:", "-"])} ${s2}`;
        second = { type: other, raw: r2, at: "after" };
      }
    } else if (type !== "PRIVATE_KEY" && g.chance(0.15)) {
      line = `${line} ${makeDecoy(g)}`;
    }
    const lineNo = lines.length + 1 + (sentence.split("\n").length - 1 > 0 ? sentence.indexOf("-----BEGIN") > 0 ? 1 : 0 : 0);
    planted.push({ type, line: type === "PRIVATE_KEY" ? lines.length + 1 + (sentence.slice(0, sentence.indexOf("-----BEGIN")).split("\n").length - 1) : lineNo, raw });
    if (second) planted.push({ type: second.type, line: lines.length + 1, raw: second.raw });
    for (const l of line.split("\n")) lines.push(l);
  }
  return { text: lines.join("\n") + "\n", planted, decoyLines };
}
