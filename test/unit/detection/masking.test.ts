import { describe, expect, it } from "vitest";
import {
  maskApiKey,
  maskAwsKey,
  maskBsn,
  maskCreditCard,
  maskEmail,
  maskIban,
  maskIp,
  maskJwt,
  maskPassword,
  maskPhone,
  maskPrivateKey,
  maskValue,
} from "../../../src/modules/detection/index.js";

describe("masking", () => {
  it.each([
    [maskEmail, "jan.jansen@example.com", "j***@example.com"],
    [maskEmail, "Info@Bedrijf.NL", "I***@bedrijf.nl"],
    [maskPhone, "+31612345678", "*********78"],
    [maskPhone, "06-12345678", "********78"],
    [maskIban, "NL91ABNA0417164300", "NL** **** **** **** 4300"],
    [maskIban, "NL91 ABNA 0417 1643 00", "NL** **** **** **** 4300"],
    [maskIban, "DE89370400440532013000", "DE** **** **** **** 3000"],
    [maskCreditCard, "4111111111111111", "411111******1111"],
    [maskCreditCard, "4111 1111 1111 1111", "411111******1111"],
    [maskCreditCard, "378282246310005", "378282*****0005"],
    [maskCreditCard, "30569309025904", "3056******5904"],
    [maskBsn, "123456782", "*******82"],
    [maskBsn, "1234.56.782", "*******82"],
    [maskIp, "203.0.113.42", "203.0.*.*"],
    [maskIp, "2001:db8::1", "2001:db8:****:****"],
    [maskAwsKey, "AKIAIOSFODNN7EXAMPLE", "AKIA************"],
    [maskPrivateKey, "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY----- [redacted]"],
    [maskJwt, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbG**********"],
    [maskApiKey, "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "ghp_************"],
    [maskApiKey, "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_************"],
    [maskApiKey, "a8F3kLq9Zx7Wm2Np4Rt6Yv1Bc5Dh0Jg", "a8F3************"],
    [maskPassword, "hunter2", "********"],
    [maskPassword, "a much longer passphrase", "********"],
  ])("%o(%s) → %s", (fn, raw, masked) => {
    expect(fn(raw)).toBe(masked);
  });

  it.each([
    ["CREDIT_CARD", "5555555555554444"],
    ["BSN", "123456782"],
    ["IBAN", "NL91ABNA0417164300"],
    ["PHONE_NUMBER", "+31612345678"],
    ["PASSWORD", "Welkom2024!"],
    ["API_KEY", "a8F3kLq9Zx7Wm2Np4Rt6Yv1Bc5Dh0Jg"],
    ["JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"],
  ] as const)("maskValue(%s) never returns the value or a long run of it", (type, raw) => {
    const m = maskValue(type, raw);
    expect(m).not.toContain(raw);
    // No more than 6 consecutive characters of the raw value survive (PCI: first 6).
    for (let i = 0; i + 7 <= raw.length; i++) expect(m).not.toContain(raw.slice(i, i + 7));
  });

  it("keeps the e-mail domain and a provider prefix, nothing more", () => {
    expect(maskValue("EMAIL", "jan.jansen@example.com")).not.toContain("jan.");
    const masked = maskValue("API_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    expect(masked.startsWith("sk_live_")).toBe(true);
    expect(masked).not.toContain("4eC3");
  });
});
