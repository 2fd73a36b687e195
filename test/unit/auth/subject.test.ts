import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AuthError, createTokenVerifier, isValidSubject, MAX_SUBJECT_LENGTH, signToken, subjectProblem } from "../../../src/platform/auth/jwt.js";

/** Issue 12, point 4: a `sub` is a user id with a length and a character set. */

const SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const token = (sub: unknown) =>
  new SignJWT({ sub } as Record<string, unknown>)
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(SECRET));

describe("subject (sub) validation", () => {
  it.each([
    ["alice"],
    ["0b8d6c1e-5a0e-4c7a-9d44-3e1f3b0f2a11"],
    ["auth0|5f7c8ec7c33c6c004bbafe82"],
    ["alice@example.com"],
    ["https://idp.example/users/42"],
    ["Zoë Ådahl"],
    ["用户"],
    ["x".repeat(MAX_SUBJECT_LENGTH)],
  ])("accepts %j", (sub) => {
    expect(subjectProblem(sub)).toBeNull();
    expect(isValidSubject(sub)).toBe(true);
  });

  it.each([
    ["", "missing"],
    [undefined, "missing"],
    [null, "missing"],
    [42, "not-a-string"],
    [["alice"], "not-a-string"],
    ["x".repeat(MAX_SUBJECT_LENGTH + 1), "too-long"],
    ["ali\u0000ce", "forbidden-character"],
    ["\u0000", "forbidden-character"],
    ["alice\n", "forbidden-character"],
    ["al\tice", "forbidden-character"],
    ["alice\u007f", "forbidden-character"],
    ["alice\u0085", "forbidden-character"],
    ["a\u202Eecila", "forbidden-character"],
    ["a\u2066b", "forbidden-character"],
    ["a\u200Bb", "forbidden-character"],
    ["\uFEFFalice", "forbidden-character"],
    ["a\uD800b", "forbidden-character"],
    ["a\uE000b", "forbidden-character"],
    ["a\u2028b", "forbidden-character"],
    [" alice", "surrounding-space"],
    ["alice ", "surrounding-space"],
  ])("refuses %j (%s)", (sub, reason) => {
    expect(subjectProblem(sub)).toBe(reason);
  });

  it("the verifier answers UNAUTHENTICATED-class AuthError('invalid') for a NUL in sub", async () => {
    const verifier = createTokenVerifier({ secret: SECRET });
    const error = await verifier.verify(await token("ali\u0000ce")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).reason).toBe("invalid");
  });

  it("logs refused subjects once per interval with a count, never the subject", async () => {
    const lines: Array<{ details: Record<string, unknown>; message: string }> = [];
    const log = { warn: (details: Record<string, unknown>, message: string) => void lines.push({ details, message }) };
    const verifier = createTokenVerifier({ secret: SECRET }, { log, rejectLogIntervalMs: 60_000 });
    const bad = await token("secret-user\u0000");
    for (let i = 0; i < 50; i++) await verifier.verify(bad).catch(() => undefined);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.details).toEqual({ reason: "forbidden-character", refused: 1 });
    expect(JSON.stringify(lines)).not.toContain("secret-user");
    // A valid token is not logged.
    await verifier.verify(await signToken(SECRET, { sub: "bob" }));
    expect(lines).toHaveLength(1);
  });

  it("logs again after the interval, with the number refused in between", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const verifier = createTokenVerifier({ secret: SECRET }, { log: { warn: (d) => void lines.push(d) }, rejectLogIntervalMs: 0 });
    await verifier.verify(await token(" x")).catch(() => undefined);
    await verifier.verify(await token(" x")).catch(() => undefined);
    expect(lines).toEqual([
      { reason: "surrounding-space", refused: 1 },
      { reason: "surrounding-space", refused: 1 },
    ]);
  });

  it("signToken refuses to mint a token with an invalid subject", async () => {
    await expect(signToken(SECRET, { sub: "a\u0000b" })).rejects.toThrow(/sub must be/);
  });
});
