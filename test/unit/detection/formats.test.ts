/**
 * Issue 13: one table per class, positives written from the formats' specifications and from
 * what real code, configuration and logs look like, beside look-alike negatives (order
 * numbers, timestamps, versions, hashes, UUIDs, documentation values).
 */
import { describe, expect, it } from "vitest";
import { detect, findCandidates, type Detection, type FindingType } from "../../../src/modules/detection/index.js";
import { Gen, mulberry32 } from "./corpus.js";

const run = (text: string, extra: Partial<Parameters<typeof detect>[1]> = {}): Detection[] => detect(text, { hashKey: "k", ...extra });
const types = (text: string, extra: Partial<Parameters<typeof detect>[1]> = {}): FindingType[] => run(text, extra).map((d) => d.type);

/** Appends the Luhn check digit (ISO/IEC 7812-1 annex B). */
function withLuhn(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

const g = new Gen(mulberry32(13));
const AN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const rnd = (n: number, alphabet = AN): string => g.chars(n, alphabet);

const VISA13 = "4222222222222";
const DINERS14 = "30569309025904";
const VISA19 = withLuhn("411111111111111111");
const UNIONPAY19 = withLuhn("621234567890123456");
const MAESTRO19 = withLuhn("675964982643845312");
const MC = "5500000000000004";
const VISA = "4111111111111111";

describe("cards of every length, and beside other numbers", () => {
  it.each([
    [`Visa ${VISA13}`, 1],
    [`Diners Club ${DINERS14}`, 1],
    [`Diners 3056 930902 5904`, 1],
    [`card ${VISA19}`, 1],
    [`UnionPay ${UNIONPAY19}`, 1],
    [`Maestro ${MAESTRO19}`, 1],
    [`${VISA} 123`, 1],
    [`creditcard: ${VISA} 0427 123`, 1],
    [`card 4111 1111 1111 1111 123`, 1],
    [`card 4111 1111 1111 1111 0427`, 1],
    [`cards ${VISA} ${MC}`, 2],
    [`cards 4111 1111 1111 1111 5500 0000 0000 0004`, 2],
    [`${VISA};${MC}`, 2],
    ["4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881", 3],
    ["my credit card: 122000000000003", 1], // UATP
    ["Dankort 5019717010103742", 1],
  ])("%s → %i card(s)", (text, n) => {
    const d = run(text).filter((x) => x.type === "CREDIT_CARD");
    expect(d.reduce((s, x) => s + x.occurrences, 0)).toBe(n);
  });

  it.each([
    "4111 1111 1111 1111 1234 5678", // one longer grouped number
    `Ordernummer ${VISA}`,
    "Timestamp 1700000000000 ms",
    "id 550e8400-e29b-41d4-a716-446655440000",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    "version 4.1.11.1111",
    "EAN 4006381333931",
    "tel 4111 1111 1111 1112", // Luhn fails
    "1234567812345670", // no issuer range (Luhn holds)
  ])("not a card: %s", (text) => {
    expect(types(text)).not.toContain("CREDIT_CARD");
  });

  it("masks every length to at most the first 6 and last 4", () => {
    for (const c of [VISA13, DINERS14, VISA19, UNIONPAY19]) {
      const d = run(`card ${c}`).find((x) => x.type === "CREDIT_CARD")!;
      expect(d.maskedValue).toHaveLength(c.length);
      expect(d.maskedValue.replace(/\*/g, "").length).toBeLessThanOrEqual(10);
      expect(d.maskedValue.slice(-4)).toBe(c.slice(-4));
    }
  });
});

const TOKEN = "8fK2mQ9xL4vN7pR1sT6wY3zB";
const PW = "Tr0ub4dor3";

describe("secrets in every syntax", () => {
  it.each([
    [`curl -H "Authorization: Bearer ${TOKEN}" https://api.example.com`, "API_KEY"],
    [`Authorization: Basic ${Buffer.from(`alice:${PW}`).toString("base64")}`, "PASSWORD"],
    [`headers = {"Authorization": "Bearer ${TOKEN}"}`, "API_KEY"],
    [`curl -u admin:${PW} https://api.example.com`, "PASSWORD"],
    [`curl --user "deploy:${PW}" https://x`, "PASSWORD"],
    [`mysqldump --password ${PW} shop`, "PASSWORD"],
    [`mysqldump --password=${PW} shop`, "PASSWORD"],
    [`amqp://guest:${PW}@rabbit.internal:5672/`, "PASSWORD"],
    [`redis://:${PW}@cache:6379/0`, "PASSWORD"],
    [`password = ${PW}`, "PASSWORD"],
    [`var dbPassword string = "${PW}"`, "PASSWORD"],
    [`dbPassword := "${PW}"`, "PASSWORD"],
    [`let password: string = "${PW}";`, "PASSWORD"],
    [`DB_PASSWORD ?= ${PW}`, "PASSWORD"],
    [`API_TOKEN ::= ${TOKEN}`, "API_KEY"],
    [`$password .= "${PW}";`, "PASSWORD"],
    [`System.setProperty("javax.net.ssl.keyStorePassword", "${PW}");`, "PASSWORD"],
    [`<password>${PW}</password>`, "PASSWORD"],
    [`<apiToken>${TOKEN}</apiToken>`, "API_KEY"],
    [`<ns:Password>${PW}</ns:Password>`, "PASSWORD"],
    [`NSString *password = @"${PW}";`, "PASSWORD"],
    [`db:\n  password: ${PW}\n`, "PASSWORD"],
    [`export SECRET_KEY="${TOKEN}"`, "API_KEY"],
    [`{"auth": {"token1": "${TOKEN}"}}`, "API_KEY"],
    [`os.environ["API_TOKEN"] = "${TOKEN}"`, "API_KEY"],
    [`if (pass == "${PW}") {`, "PASSWORD"],
    [`if ("${PW}" === password) {`, "PASSWORD"],
    [`if (password != '${PW}')`, "PASSWORD"],
    [`AWSToken = "${TOKEN}"`, "API_KEY"],
    [`DBPassword: ${PW}`, "PASSWORD"],
    [`Server=db;User Id=sa;Password=${PW};`, "PASSWORD"],
    [`<add key="ApiKey" value="${TOKEN}" />`, "API_KEY"],
    ["my password is: hunter22", "PASSWORD"],
    ["Het wachtwoord is Zomer2024! en de gebruikersnaam jan", "PASSWORD"],
    [`SENDGRID_API_KEY=SG.${rnd(22)}.${rnd(43)}`, "API_KEY"],
    ['private_key = "hopenobodyfindsthisone";', "API_KEY"],
    [`docker login -u deploy -p ${PW} registry.example.com`, "PASSWORD"],
    [`mysql -u root -p${PW} shop`, "PASSWORD"],
    [`sshpass -p '${PW}' ssh deploy@host`, "PASSWORD"],
    [`password = os.getenv('DB_PASSWORD', '${PW}')`, "PASSWORD"],
  ] as const)("%s → %s", (text, type) => {
    expect(types(text)).toEqual([type]);
  });

  it.each([
    `xapp-1-A0${rnd(9, "0123456789")}-${rnd(13, "0123456789")}-${rnd(64, "0123456789abcdef")}`,
    `xoxe-1-${rnd(40)}`,
    `xoxe.xoxp-1-${rnd(40)}`,
    `xoxb-${rnd(11, "0123456789")}-${rnd(12, "0123456789")}-${rnd(24)}`,
    `ghp_${rnd(36)}`,
    `ghs_${rnd(36)}`,
    `github_pat_11${rnd(20)}_${rnd(59)}`,
    `glpat-${rnd(20)}`,
    `gldt-${rnd(20)}`,
    `glrt-${rnd(20)}`,
    `npm_${rnd(36)}`,
    `sk-proj-${rnd(48)}`,
    `sk-svcacct-${rnd(48)}`,
    `sk-${rnd(20)}T3BlbkFJ${rnd(20)}`,
    `sk-ant-api03-${rnd(93)}AA`,
    `sk-ant-admin01-${rnd(93)}AA`,
    `sk_live_${rnd(24)}`,
    `rk_live_${rnd(24)}`,
    `whsec_${rnd(32)}`,
    `AIza${rnd(35)}`,
    `ya29.a0${rnd(60)}`,
    `GOCSPX-${rnd(28)}`,
    `shpat_${rnd(32, "0123456789abcdef")}`,
    `hf_${rnd(34)}`,
    `pypi-AgEIcHlwaS5vcmc${rnd(60)}`,
    `dop_v1_${rnd(64, "0123456789abcdef")}`,
    `glsa_${rnd(32)}_${rnd(8, "0123456789abcdef")}`,
    `lin_api_${rnd(40)}`,
    `sq0atp-${rnd(22)}`,
    `xkeysib-${rnd(64, "0123456789abcdef")}-${rnd(16)}`,
    `rubygems_${rnd(48, "0123456789abcdef")}`,
    `pscale_tkn_${rnd(43)}`,
  ])("provider format %s", (key) => {
    for (const line of [key, `token: ${key}`, `export KEY=${key}`, `"${key}"`]) {
      const d = run(line);
      expect(d.map((x) => x.type), line).toEqual(["API_KEY"]);
      expect(d[0]!.maskedValue).not.toContain(key.slice(-12));
    }
  });

  it.each([
    "AKIAXXXXXXXXXXXXXXXX",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "SLACK_BOT_TOKEN=xoxb-my-bot-token",
    'token: "xoxb-not-a-real-token-this-will-not-work"',
    "stripe.api_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "sk-proj-your-api-key-here-0000000000000",
    "password: ########",
    'password = "**********"',
    'api_key = "abcdefghijklmnopqrstuvwxyz"',
    "token: ABCDEFGHIJKLMNOPQRST",
    'secret = "0123456789abcdef"',
    "-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY----- goes on the first line of the file",
    `publicToken = "${TOKEN}"`,
    `public_key: ${TOKEN}`,
    `STRIPE_PUBLISHABLE_KEY=pk_live_${TOKEN}`,
    "commit: 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "token_count = 12345",
    'request_id = "550e8400-e29b-41d4-a716-446655440000"',
    'version = "1.2.3"',
    "password = userPassword;",
    "token = authToken",
    "if (password == confirmPassword) {",
    "--password-file /run/secrets/db",
    'curl -u "$USER:$PASS" https://x',
    "Authorization: Bearer ${TOKEN}",
    "Authorization: Bearer <token>",
    `next_token: ${TOKEN}`,
    "password: required",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "Build 2024.01.15.1234 finished at 2024-01-15T10:30:00Z",
    "the password is case-sensitive",
    "Your password is required.",
    '<add key="PageSize" value="8fK2mQ9xL4vN7pR1sT6wY3zB" />',
    '"Authorization": "Basic dXNlcjpwYXNzd29yZA=="', // user:password
    "token_type: bearer",
    "password_reset_token_ttl = 3600",
    "ssh -p 2222 build.example.org",
    "mysql -u root -p shop",
    "psql -h db -p 5432 -U app",
  ])("not a secret: %s", (text) => {
    expect(run(text)).toEqual([]);
  });

  it("passwords are masked whole; keys keep their prefix only", () => {
    const [p] = run(`password = "${PW}"`);
    expect(p!.maskedValue).toBe("********");
    const [k] = run(`ghp_${TOKEN}${TOKEN.slice(0, 12)}`);
    expect(k!.maskedValue).toBe("ghp_************");
  });
});

describe("IP addresses, e-mail, IBAN", () => {
  it.each([
    ["ifconfig 10.0.0.1@eth0", ["IP_ADDRESS"]],
    ["client 203.0.113.9@443 connected", ["IP_ADDRESS"]],
    ["peer ::ffff:192.0.2.33 connected", ["IP_ADDRESS"]],
    ["mail info@example.xn--p1ai", ["EMAIL"]],
    ["mail jan@bedrijf.xn--90ais", ["EMAIL"]],
    ["IBAN NL91.ABNA.0417.1643.00", ["IBAN"]],
    ["IBAN NL91 ABNA 041716 4300", ["IBAN"]],
    ["IBAN DE89 37040044 0532013000", ["IBAN"]],
    ["iban: be68-5390-0754-7034", ["IBAN"]],
  ] as const)("%s → %j", (text, want) => {
    expect(types(text)).toEqual(want);
  });

  it.each([
    "npm install pkg@1.2.3",
    "version 10.0.0.1.2@latest",
    "icon@2x.png",
    "user@localhost",
    "IBAN NL91.ABNA.0417.1643.01",
    "IBAN NL91ABNA04171643001",
    "ref NL91ABNA0417164300X",
  ])("not found: %s", (text) => {
    expect(types(text).filter((t) => t === "IP_ADDRESS" || t === "EMAIL" || t === "IBAN")).toEqual([]);
  });

  it("an IPv6 address with an embedded IPv4 is one finding, masked whole", () => {
    const d = run("peer ::ffff:192.0.2.33 connected");
    expect(d).toHaveLength(1);
    expect(d[0]!.maskedValue).toBe("0:0:****:****");
    expect(JSON.stringify(d)).not.toMatch(/192|2\.33/);
  });
});

describe("phone numbers of other countries, by configured regions and context", () => {
  const e164 = (text: string, regions?: string[]): string[] =>
    findCandidates(text, new Set(["PHONE_NUMBER"]), regions as never).map((c) => c.value);

  it.each([
    ["Tel 020 7946 0958", "+442079460958"],
    ["Tél. 01 42 68 53 00", "+33142685300"],
    ["Tel 02 555 12 12", "+3225551212"],
    ["GSM 0470 12 34 56", "+32470123456"],
    ["Tel 030 901820", "+4930901820"],
    ["Handy 0151 23456789", "+4915123456789"],
    ["call (415) 555-2671", "+14155552671"],
    ["call 415-555-2671", "+14155552671"],
    ["toll free 1 (800) 555-0199", "+18005550199"],
    ["My UK number is 078 2272 5432", "+447822725432"],
    ["Bel 020 123 4567", "+31201234567"],
  ])("%s → %s", (text, want) => {
    expect(e164(text)).toEqual([want]);
    expect(types(text)).toEqual(["PHONE_NUMBER"]);
  });

  it("where plans overlap, a country named on the line or a +CC beside it decides", () => {
    // 0201234567 is valid in NL, DE and FR.
    expect(e164("Tel 0201234567")).toEqual(["+31201234567"]);
    expect(e164("Bureau en France: 0201234567")).toEqual(["+33201234567"]);
    expect(e164("Büro Deutschland 0201234567")).toEqual(["+49201234567"]);
    expect(e164("Tel +33 1 42 68 53 00 of 0201234567")).toEqual(["+33142685300", "+33201234567"]);
  });

  it("DETECTION_PHONE_REGIONS restricts the plans tried", () => {
    expect(types("Tel 020 7946 0958", { phoneRegions: ["NL"] })).toEqual([]);
    expect(types("Tel 020 7946 0958", { phoneRegions: ["gb"] })).toEqual(["PHONE_NUMBER"]);
    expect(types("call (415) 555-2671", { phoneRegions: ["NL", "DE"] })).toEqual([]);
    expect(types("Tel 0201234567", { phoneRegions: [] })).toEqual([]);
  });

  it.each([
    "Ordernummer 0201234567",
    "Factuur 2024-123-4567",
    "at 2024-01-15 10:30:00",
    "build 1.0.0201234567",
    "uuid 550e8400-e29b-41d4-a716-446655440000",
    "ISBN 978-90-123-4567-8",
    "range 4155552671", // ten bare digits are no North American number
    "Zaak 2024/123456",
    "My SSN is 078-05-1120",
  ])("not a phone: %s", (text) => {
    expect(types(text)).not.toContain("PHONE_NUMBER");
  });
});

describe("masking covers the whole value for every type", () => {
  it.each([
    [`card ${VISA19}`, VISA19.slice(6, -4)],
    [`Diners ${DINERS14}`, DINERS14.slice(4, -4)],
    ["BSN 123456782", "1234567"],
    ["IBAN NL91.ABNA.0417.1643.00", "ABNA"],
    ["Tel 020 7946 0958", "7946"],
    ["mail info@example.xn--p1ai", "info"],
    ["peer ::ffff:192.0.2.33 connected", "192"],
    ["ifconfig 10.0.0.1@eth0", ".0.1"],
    [`Authorization: Basic ${Buffer.from(`alice:${PW}`).toString("base64")}`, PW],
    [`Authorization: Bearer ${TOKEN}`, TOKEN.slice(4)],
    [`curl -u admin:${PW} https://x`, PW],
    [`<password>${PW}</password>`, PW],
    [`xoxe.xoxp-1-${TOKEN}${TOKEN}`, TOKEN.slice(0, 8)],
    ["-----BEGIN PRIVATE KEY-----\n" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw\n-----END PRIVATE KEY-----", "QUJDREVG"],
  ])("%s", (text, secret) => {
    const d = run(text);
    expect(d.length).toBeGreaterThan(0);
    expect(JSON.stringify(d)).not.toContain(secret);
  });
});
