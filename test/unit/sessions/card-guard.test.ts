import "reflect-metadata";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { luhnCheck } from "../../../src/modules/detection/validators.js";
import { containsCardNumber } from "../../../src/modules/payments/card-guard.js";
import { validatePaymentInput } from "../../../src/modules/payments/payment.service.js";
import { cleanText } from "../../../src/shared/text.js";
import { validateConnectionInput } from "../../../src/modules/connections/connection.service.js";
import { DatabaseEngine } from "../../../src/modules/connections/connection.type.js";
import { AppError } from "../../../src/shared/errors.js";

describe("containsCardNumber", () => {
  it.each([
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111 - 1111 - 1111 - 1111",
    "4111.1111.1111.1111",
    "card: 5500 0000 0000 0004 exp 12/30",
    "378282246310005",
    "3782 822463 10005",
    "order 12 4111 1111 1111 1111",
    "ref4111111111111111x",
    "４１１１１１１１１１１１１１１１", // fullwidth digits
    "6011 0009 9013 9424",
    "4222222222222", // 13 digits
    "1234 5678 9012 3452", // Luhn-valid, no known issuer: refused anyway
  ])("finds a card number in %j", (text) => {
    expect(containsCardNumber(text)).toBe(true);
  });

  it.each([
    "",
    "tr_WDqYK6vllg",
    "4111 1111 1111 1112",
    "INV-2024-000123",
    "123456789012", // 12 digits
    "12345678901234567890123456", // one unbroken 26-digit reference
    "amount 1,999.00 EUR",
  ])("lets %j through", (text) => {
    expect(containsCardNumber(text)).toBe(false);
  });

  it("finds every Luhn-valid 13-19 digit number, however grouped and wherever it sits", () => {
    const cardDigits = fc
      .tuple(fc.integer({ min: 12, max: 18 }), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }))
      .map(([n, ds]) => {
        const body = ds.slice(0, n).join("");
        for (let check = 0; check < 10; check++) if (luhnCheck(body + check)) return body + check;
        throw new Error("unreachable");
      });
    const grouped = fc.tuple(cardDigits, fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }), fc.constantFrom(" ", "-", "  ", " - ", ".", ""))
      .map(([d, sizes, sep]) => {
        const parts: string[] = [];
        let i = 0;
        for (const size of sizes) if (i < d.length) parts.push(d.slice(i, (i += size)));
        if (i < d.length) parts.push(d.slice(i));
        return parts.join(sep);
      });
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }).map((s) => s.replace(/\d/g, "x")), grouped, fc.string({ maxLength: 20 }).map((s) => s.replace(/\d/g, "y")), (pre, card, post) => {
        expect(containsCardNumber(`${pre} ${card} ${post}`)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

const codeAndField = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return [err.code, err.extensions.field];
    throw err;
  }
  return null;
};

describe("validatePaymentInput", () => {
  const base = { sessionId: "x", provider: "mollie", reference: "tr_1", amountCents: 100, currency: "eur", status: "paid", description: null };
  it("normalises currency and status", () => {
    expect(validatePaymentInput(base)).toMatchObject({ currency: "EUR", status: "PAID", description: null });
  });
  it.each<[string, Record<string, unknown>]>([
    ["amountCents", { amountCents: 0 }],
    ["amountCents", { amountCents: 1.5 }],
    ["currency", { currency: "ABC" }],
    ["currency", { currency: "E U" }],
    ["status", { status: "paid!" }],
    ["reference", { reference: "4111 1111 1111 1111" }],
    ["description", { description: "x\u0000y" }],
  ])("refuses %s", (field, over) => {
    expect(codeAndField(() => validatePaymentInput({ ...base, ...over } as never))).toEqual(["BAD_USER_INPUT", field]);
  });
});

describe("validateConnectionInput and cleanText", () => {
  const base = { sessionId: "x", name: "n", engine: DatabaseEngine.MYSQL, host: "[::1]", port: 3306, database: "d", user: "u", password: "", ssl: null };
  it("accepts IPv6 in brackets, an empty password and a missing ssl", () => {
    expect(validateConnectionInput(base)).toMatchObject({ host: "[::1]", ssl: false });
  });
  it.each<[string, Record<string, unknown>]>([
    ["engine", { engine: "ORACLE" }],
    ["host", { host: "0x7f.0.0.1" }],
    ["host", { host: "db.example.com:5432" }],
    ["port", { port: 1.5 }],
    ["password", { password: "\uD800" }],
  ])("refuses %s", (field, over) => {
    expect(codeAndField(() => validateConnectionInput({ ...base, ...over } as never))).toEqual(["BAD_USER_INPUT", field]);
  });
  it("counts characters, not UTF-16 units", () => {
    expect(cleanText("😀".repeat(200), "name", 200)).toHaveLength(400);
    expect(codeAndField(() => cleanText("😀".repeat(201), "name", 200))).toEqual(["BAD_USER_INPUT", "name"]);
  });
});
