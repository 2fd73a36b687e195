/**
 * Issue 10: detection reads user-controlled text (documents, code, database cells), so it
 * must run in linear time on any input. Each case doubles an adversarial input and checks
 * the time ratio stays under 3 (about 2 when linear, 4 or more when quadratic).
 */
import { describe, it } from "vitest";
import { classifyName, detect } from "../../../src/modules/detection/index.js";
import { isPlaceholderSecret, isSequential } from "../../../src/modules/detection/secrets.js";
import { expectLinear } from "./linear-time.js";

const opts = { minChars: 1 << 18, maxMs: 60, runs: 3 };
const run = (s: string): unknown => detect(s, { hashKey: "k" });

describe("detect runs in linear time on hostile input", () => {
  it.each([
    // secrets: key/value scanning
    "pwd=",
    "token=",
    "secret=",
    "password: ",
    "pwd=\"",
    "api_key='",
    "password==",
    '"password", ',
    "</password>",
    "<password>x",
    "--password ",
    "-u a:",
    "Authorization: Bearer ",
    "x=",
    "=",
    ":",
    "a:",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nAAAA",
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9.",
    "sk_",
    "sk-",
    "sk_live_",
    "xoxb-",
    "xoxe.",
    "AKIA",
    "AIza",
    "ya29.",
    "ghp_",
    // numbers
    "1",
    "1 ",
    "1.",
    "1-",
    "0",
    "00 ",
    "+31 ",
    "(0)",
    "4111 ",
    "1.2.3.4.",
    "10.0.0.1@",
    "NL91 ",
    "NL91",
    "ab12",
    // e-mail and URLs
    "@",
    "a@",
    "a.@",
    "a@b.",
    "://a:b@",
    "a://",
    "https://",
    "x://u:",
    // runs of separators
    ".",
    "-",
    "_",
    "::1 ",
    "\n",
    "\"",
    "'",
  ])("detect(%j repeated)", (unit) => {
    expectLinear(run, (n) => unit.repeat(n), opts);
  });

  it.each([
    ["long digit run", (n: number) => "1".repeat(n)],
    ["long word", (n: number) => "a".repeat(n)],
    ["one long value after pwd=", (n: number) => "pwd=" + "a".repeat(n)],
    ["one long quoted value", (n: number) => 'password = "' + "a".repeat(n)],
    ["long base64 run after eyJ", (n: number) => "eyJ" + "A".repeat(n)],
    ["long run after sk_live_", (n: number) => "sk_live_" + "a1".repeat(n)],
    ["PEM header then base64 without END", (n: number) => "-----BEGIN PRIVATE KEY-----\n" + "QUJD\n".repeat(n)],
    ["many lines of assignments", (n: number) => "password = Tr0ub4dor3\n".repeat(n)],
    ["dense PII lines", (n: number) => "jan@example.com 06-12345678 NL91ABNA0417164300\n".repeat(n)],
  ])("detect: %s", (_name, make) => {
    expectLinear(run, make, opts);
  });

  it.each([
    ["isPlaceholderSecret", (s: string) => isPlaceholderSecret(s)],
    ["isSequential", (s: string) => isSequential(s)],
    ["classifyName", (s: string) => classifyName(s)],
  ] as const)("%s on a long value", (_name, fn) => {
    expectLinear(fn, (n) => "aB1_".repeat(n) + "!", opts);
  });
});
