import { describe, expect, it } from "vitest";
import { detect, hashValue, hmacHex, highestSeverity, severityOf, type Detection, type FindingType } from "../../../src/modules/detection/index.js";

const KEY = "test-key";
const run = (text: string, extra: Partial<Parameters<typeof detect>[1]> = {}): Detection[] => detect(text, { hashKey: KEY, ...extra });
const types = (text: string): FindingType[] => run(text).map((d) => d.type);

describe("detect: one value of each type", () => {
  it.each([
    ["Mijn BSN is 123456782.", "BSN"],
    ["BSN: 1234.56.782", "BSN"],
    ["sofinummer 123 456 782", "BSN"],
    ["IBAN NL91 ABNA 0417 1643 00 graag", "IBAN"],
    ["iban=DE89370400440532013000", "IBAN"],
    ["card 4111-1111-1111-1111", "CREDIT_CARD"],
    ["Amex 3782 822463 10005", "CREDIT_CARD"],
    ["Bel 06-12345678", "PHONE_NUMBER"],
    ["Tel. +31 (0)20 123 4567", "PHONE_NUMBER"],
    ["mail jan@example.com", "EMAIL"],
    ["from 203.0.113.42", "IP_ADDRESS"],
    ["peer 2001:db8::8a2e:370:7334 connected", "IP_ADDRESS"],
    ["aws_access_key_id=AKIAZ7Q3V5X2M4N6P8R1", "AWS_ACCESS_KEY"],
    ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----", "PRIVATE_KEY"],
    ["Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "JWT"],
    ["token ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "API_KEY"],
    ["SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "API_KEY"],
    ["const key = 'AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY';", "API_KEY"],
    ['api_key = "a8F3kLq9Zx7Wm2Np4Rt6Yv1Bc5Dh0Jg"', "API_KEY"],
    ['password = "Sup3rS3cret!"', "PASSWORD"],
    ["PASSWORD: hunter22", "PASSWORD"],
    ["wachtwoord=Welkom2024!", "PASSWORD"],
    ["DATABASE_URL=postgres://app:s3cr3t@db.example.com:5432/app", "PASSWORD"],
  ] as const)("%s → %s", (text, type) => {
    expect(types(text)).toEqual([type]);
  });
});

describe("detect: decoys are not findings", () => {
  it.each([
    "Ordernummer 123456789", // 11-check fails
    "BSN 123456789", // 11-check fails even with context
    "card 4111 1111 1111 1112", // Luhn fails
    "IBAN NL91 ABNA 0417 1643 01", // mod-97 fails
    "versie 1.2.3.4.5",
    "upgrade 10.0.0.0.1",
    "release 1.2.3",
    "Datum 12-05-2023, 2023-05-12",
    "Bedrag € 1.234.567,89",
    "om 12:30:45 uur",
    "MAC 00:1a:2b:3c:4d:5e",
    'password = "${DB_PASSWORD}"',
    "password: <your-password>",
    "const password = getPassword();",
    "api_key = os.environ['API_KEY']",
    "icon@2x.png en lodash@4.17.21",
    "std::vector<int> v;",
    "Password: must contain a digit",
    "sk_live_XXXXXXXXXXXXXXXXXXXXXXXX",
  ])("%s", (text) => {
    expect(run(text)).toEqual([]);
  });
});

describe("detect: context", () => {
  it("a bare 11-valid number is a BSN with lower confidence than one beside 'BSN'", () => {
    const bare = run("Nummer 123456782 staat hier.")[0]!;
    const labelled = run("Burgerservicenummer 123456782 staat hier.")[0]!;
    expect(bare.type).toBe("BSN");
    expect(labelled.confidence).toBeGreaterThan(bare.confidence);
  });
  it.each(["Ordernummer 123456782", "factuur 123456782", "tracking: 123456782", "invoice 123456782"])("negative context drops %s", (text) => {
    expect(run(text)).toEqual([]);
  });
  it("reports low-confidence ones when asked", () => {
    const d = run("Ordernummer 123456782", { minConfidence: 0 });
    expect(d.map((x) => x.type)).toEqual(["BSN"]);
    expect(d[0]!.confidence).toBeLessThan(0.5);
  });
  it("uses the contextHint (a column name)", () => {
    const plain = run("123456782")[0]!;
    const hinted = run("123456782", { contextHint: "customer_bsn" })[0]!;
    expect(hinted.confidence).toBeGreaterThan(plain.confidence);
    expect(run("123456782", { contextHint: "order_number" })).toEqual([]);
  });
  it("version context removes a dotted quad", () => {
    expect(types("version 2.10.4.1 released")).toEqual([]);
    expect(types("server 10.2.4.1 is down")).toEqual(["IP_ADDRESS"]);
  });
});

describe("detect: overlaps, grouping, lines", () => {
  it("a card number is not also a phone or BSN; an IBAN's digits are not a BSN", () => {
    expect(types("Kaart 4111111111111111 en IBAN NL91ABNA0417164300")).toEqual(["CREDIT_CARD", "IBAN"]);
  });
  it("a JWT in a token assignment is a JWT only", () => {
    expect(types('token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"')).toEqual(["JWT"]);
  });
  it("a connection string's user and host are not an e-mail", () => {
    expect(types("mysql://root:p@ss@w0rd@db.example.com/shop")).toEqual(["PASSWORD"]);
  });
  it("repeats on one line are one detection with occurrences; other lines are separate", () => {
    const d = run("a@example.com, a@example.com en A@example.com\nb: a@example.com");
    expect(d).toHaveLength(2);
    expect(d[0]).toMatchObject({ type: "EMAIL", line: 1, occurrences: 3 });
    expect(d[1]).toMatchObject({ type: "EMAIL", line: 2, occurrences: 1 });
    expect(d[0]!.valueHash).toBe(d[1]!.valueHash);
  });
  it("line numbers are 1-based and right across blank and CRLF lines", () => {
    const d = run("intro\r\n\r\nBSN 123456782\r\n\nmail x@example.org");
    expect(d.map((x) => [x.type, x.line])).toEqual([
      ["BSN", 3],
      ["EMAIL", 5],
    ]);
  });
  it("valueHash is a keyed HMAC of the normalised value, never the value", () => {
    const [a] = run("IBAN NL91 ABNA 0417 1643 00");
    const [b] = run("IBAN NL91ABNA0417164300");
    expect(a!.valueHash).toBe(b!.valueHash);
    expect(a!.valueHash).toBe(hashValue(KEY, "IBAN", "NL91ABNA0417164300"));
    expect(detect("IBAN NL91ABNA0417164300", { hashKey: "other" })[0]!.valueHash).not.toBe(a!.valueHash);
    expect(JSON.stringify(run("IBAN NL91ABNA0417164300 BSN 123456782 pw: password=Hunter22x"))).not.toMatch(/NL91ABNA0417164300|123456782|Hunter22x/);
  });
  it.each([
    ["k", "EMAIL:a@b.nl"],
    [new Uint8Array([1, 2, 3, 250]), "BSN:123456782"],
    ["x".repeat(100), "IBAN:NL91ABNA0417164300"],
  ])("hashValue is HMAC-SHA256 (key %#)", (key, msg) => {
    const [type, value] = msg.split(/:(.*)/) as [never, string];
    expect(hashValue(key, type, value)).toBe(hmacHex(key, msg));
  });
  it("types restricts the search", () => {
    expect(run("jan@example.com 06-12345678", { types: ["PHONE_NUMBER"] }).map((d) => d.type)).toEqual(["PHONE_NUMBER"]);
  });
});

describe("severity", () => {
  it.each([
    ["BSN", "CRITICAL"],
    ["CREDIT_CARD", "CRITICAL"],
    ["PRIVATE_KEY", "CRITICAL"],
    ["IBAN", "HIGH"],
    ["PASSWORD", "HIGH"],
    ["AWS_ACCESS_KEY", "HIGH"],
    ["API_KEY", "HIGH"],
    ["JWT", "HIGH"],
    ["EMAIL", "MEDIUM"],
    ["PHONE_NUMBER", "MEDIUM"],
    ["IP_ADDRESS", "LOW"],
  ] as const)("%s is %s", (t, s) => expect(severityOf(t)).toBe(s));
  it.each([
    [[], null],
    [["LOW"], "LOW"],
    [["MEDIUM", "CRITICAL", "HIGH"], "CRITICAL"],
    [["LOW", "HIGH", "MEDIUM"], "HIGH"],
  ] as const)("highestSeverity(%j) → %s", (list, s) => expect(highestSeverity(list)).toBe(s));
});
