import { describe, expect, it } from "vitest";
import {
  cardBrand,
  classifyName,
  isJwt,
  isValidBsn,
  isValidCreditCard,
  isValidEmail,
  isValidIban,
  isValidIPv4,
  isValidIPv6,
  isValidPhone,
  luhnCheck,
  normalisePhone,
  shannonEntropy,
  isAwsAccessKeyId,
} from "../../../src/modules/detection/index.js";

const jwtOf = (header: object): string =>
  `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from('{"sub":"1"}').toString("base64url")}.c2lnbmF0dXJl`;

describe("luhnCheck", () => {
  it.each([
    ["4111111111111111", true],
    ["79927398713", true],
    ["0", false], // too short to be a number
    ["4111111111111112", false],
    ["79927398710", false],
    ["4111 1111 1111 1111", false], // digits only
  ])("%s → %s", (v, ok) => expect(luhnCheck(v)).toBe(ok));
});

describe("isValidCreditCard / cardBrand", () => {
  it.each([
    ["4111111111111111", "VISA"],
    ["4222222222222", "VISA"],
    ["5555555555554444", "MASTERCARD"],
    ["2223003122003222", "MASTERCARD"],
    ["378282246310005", "AMEX"],
    ["6011111111111117", "DISCOVER"],
    ["30569309025904", "DINERS"],
    ["3530111333300000", "JCB"],
    ["6759649826438453", "MAESTRO"],
    ["4111 1111 1111 1111", "VISA"],
    ["4111-1111-1111-1111", "VISA"],
  ])("%s is a valid %s", (v, brand) => {
    expect(isValidCreditCard(v)).toBe(true);
    expect(cardBrand(v.replace(/\D/g, ""))).toBe(brand);
  });
  it.each([
    ["4111111111111112", "Luhn fails"],
    ["1234567812345670", "no issuer starts with 1"],
    ["9111111111111111", "no issuer"],
    ["37828224631000", "Amex needs 15 digits"],
    ["0000000000000000", "all zeros"],
    ["4111a11111111111", "letters"],
    ["411111111111", "too short"],
  ])("%s is not a card (%s)", (v) => expect(isValidCreditCard(v)).toBe(false));
});

describe("isValidBsn (11-check)", () => {
  it.each(["123456782", "1234.56.782", "123 456 782", "111222333", "012345672"])("%s is valid", (v) => expect(isValidBsn(v)).toBe(true));
  it.each([
    ["123456789", "11-check fails"],
    ["000000000", "all zeros"],
    ["12345678", "8 digits"],
    ["1234567820", "10 digits"],
    ["12345678a", "letter"],
  ])("%s is invalid (%s)", (v) => expect(isValidBsn(v)).toBe(false));
});

describe("isValidIban", () => {
  it.each(["NL91ABNA0417164300", "NL91 ABNA 0417 1643 00", "nl91abna0417164300", "DE89370400440532013000", "GB82WEST12345698765432", "BE68539007547034", "FR1420041010050500013M02606"])(
    "%s is valid",
    (v) => expect(isValidIban(v)).toBe(true),
  );
  it.each([
    ["NL91ABNA0417164301", "mod-97 fails"],
    ["NL91ABNA041716430", "NL length is 18"],
    ["XX91ABNA0417164300", "unknown country"],
    ["DE8937040044053201300", "DE length is 22"],
    ["NL9IABNA0417164300", "check digits must be digits"],
  ])("%s is invalid (%s)", (v) => expect(isValidIban(v)).toBe(false));
});

describe("phones (libphonenumber-js, numbering plans, default NL)", () => {
  it.each([
    ["06-12345678", "+31612345678"],
    ["+31 6 12345678", "+31612345678"],
    ["+31 (0)6 1234 5678", "+31612345678"],
    ["0031 6 12345678", "+31612345678"],
    ["020-1234567", "+31201234567"],
    ["(020) 123 4567", "+31201234567"],
    ["+44 20 7946 0958", "+442079460958"],
    ["+1 (415) 555-2671", "+14155552671"],
  ])("%s → %s", (v, e164) => expect(normalisePhone(v)).toBe(e164));
  it.each(["06-1234567", "+31 6 1234", "12345678901234", "0000000000", "+999 123456789"])("%s is not a phone", (v) => expect(isValidPhone(v)).toBe(false));
});

describe("IP addresses", () => {
  it.each(["192.168.1.1", "8.8.8.8", "0.0.0.0", "255.255.255.255"])("%s is IPv4", (v) => expect(isValidIPv4(v)).toBe(true));
  it.each(["256.1.1.1", "1.2.3", "10.0.0.0.1", "1.2.3.4.5", "01.2.3.4", "a.b.c.d"])("%s is not IPv4", (v) => expect(isValidIPv4(v)).toBe(false));
  it.each(["2001:db8::1", "::1", "fe80::1ff:fe23:4567:890a", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.128"])("%s is IPv6", (v) =>
    expect(isValidIPv6(v)).toBe(true),
  );
  it.each(["2001:db8::1::2", "12:30:45", "00:1a:2b:3c:4d:5e", "2001:db8:0:0:0:0:0:0:1", "gggg::1", ":"])("%s is not IPv6", (v) =>
    expect(isValidIPv6(v)).toBe(false),
  );
});

describe("isValidEmail", () => {
  it.each(["jan@example.com", "j.de-vries+nieuws@mail.example.nl", "INFO@Bedrijf.NL"])("%s is valid", (v) => expect(isValidEmail(v)).toBe(true));
  it.each(["jan@localhost", "icon@2x.png", "@example.com", "jan@@example.com", "jan@-example.com", "jan..x@example.com", "lodash@4.17.21"])("%s is invalid", (v) =>
    expect(isValidEmail(v)).toBe(false),
  );
});

describe("secrets", () => {
  it.each([
    [jwtOf({ alg: "HS256", typ: "JWT" }), true],
    [jwtOf({ typ: "JWT" }), false],
    ["eyJub3Rqc29u.eyJzdWIiOiIxIn0.c2ln", false],
    ["abc.def.ghi", false],
  ])("isJwt(%s) → %s", (v, ok) => expect(isJwt(v)).toBe(ok));
  it.each([
    ["AKIAIOSFODNN7EXAMPLE", true],
    ["ASIAY34FZKBOKMUTVV7A", true],
    ["AKIAiosfodnn7example", false],
    ["AKIAIOSFODNN7EXAMPL", false],
  ])("isAwsAccessKeyId(%s) → %s", (v, ok) => expect(isAwsAccessKeyId(v)).toBe(ok));
  it.each([
    ["DB_PASSWORD", "PASSWORD"],
    ["wachtwoord", "PASSWORD"],
    ["userPassword", "PASSWORD"],
    ["admin_pass", "PASSWORD"],
    ["api_key", "API_KEY"],
    ["apiKey", "API_KEY"],
    ["client-secret", "API_KEY"],
    ["AUTH_TOKEN", "API_KEY"],
    ["aws_secret_access_key", "API_KEY"],
    ["password_policy", null],
    ["passwordMinLength", null],
    ["primary_key", null],
    ["csrf_token", null],
    ["pass", null],
    ["username", null],
  ])("classifyName(%s) → %s", (v, kind) => expect(classifyName(v)).toBe(kind));
  it("shannonEntropy separates random tokens from words", () => {
    expect(shannonEntropy("aaaaaaaa")).toBe(0);
    expect(shannonEntropy("a8F3kLq9Zx7Wm2Np4Rt6Yv1B")).toBeGreaterThan(4);
    expect(shannonEntropy("password")).toBeLessThan(3);
  });
});
