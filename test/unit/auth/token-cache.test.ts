import { afterEach, describe, expect, it, vi } from "vitest";

// A pass-through spy on jose's jwtVerify: it counts the real verifications the cache saves.
const verifications = vi.hoisted(() => ({ count: 0 }));
vi.mock("jose", async (importOriginal) => {
  const jose = await importOriginal<typeof import("jose")>();
  return {
    ...jose,
    jwtVerify: (...args: Parameters<typeof jose.jwtVerify>) => {
      verifications.count++;
      return jose.jwtVerify(...args);
    },
  };
});

const { AuthError, createTokenVerifier, signToken } = await import("../../../src/platform/auth/jwt.js");

/** The verified-token cache (bench/me.bench.ts): what it saves, and every check it keeps. */

const SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

afterEach(() => {
  vi.useRealTimers();
  verifications.count = 0;
});

const refused = (promise: Promise<unknown>) => promise.then(() => null, (e: unknown) => (e instanceof AuthError ? e.reason : e));

describe("verified-token cache", () => {
  it("verifies a repeated token once, and again once cacheTtlMs has passed", async () => {
    const verifier = createTokenVerifier({ secret: SECRET }, { cacheTtlMs: 1_000 });
    const token = await signToken(SECRET, { sub: "alice", expiresIn: 3600 });
    const start = Date.now();
    for (let i = 0; i < 5; i++) await verifier.verify(token);
    expect(verifications.count).toBe(1);
    vi.useFakeTimers({ toFake: ["Date"], now: start + 1_001 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ id: "alice" });
    expect(verifications.count).toBe(2);
  });

  it("never serves a token past its exp, however recent the verification", async () => {
    const verifier = createTokenVerifier({ secret: SECRET, clockToleranceSec: 0 }, { cacheTtlMs: 60_000 });
    const token = await signToken(SECRET, { sub: "alice", expiresIn: 2 });
    const { expiresAt } = await verifier.verify(token);
    vi.useFakeTimers({ toFake: ["Date"], now: expiresAt! + 1 });
    expect(await refused(verifier.verify(token))).toBe("expired");
    expect(verifications.count).toBe(2); // the second answer came from jose, not the cache
  });

  it("never caches a failure: a bad signature is verified (and refused) every time", async () => {
    const verifier = createTokenVerifier({ secret: SECRET });
    const good = await signToken(SECRET, { sub: "alice" });
    await verifier.verify(good);
    const forged = `${good.slice(0, good.lastIndexOf(".") + 1)}${"A".repeat(43)}`;
    for (let i = 0; i < 3; i++) expect(await refused(verifier.verify(forged))).toBe("invalid");
    expect(verifications.count).toBe(4);
    const other = await signToken("another-secret-0123456789-abcdefghijklmnop", { sub: "alice" });
    expect(await refused(verifier.verify(other))).toBe("invalid");
    expect(await refused(verifier.verify(other))).toBe("invalid");
    expect(verifications.count).toBe(6);
  });

  it("stays bounded: the least recently used token is evicted and verified again", async () => {
    const verifier = createTokenVerifier({ secret: SECRET }, { cacheMaxEntries: 2 });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((sub) => signToken(SECRET, { sub })));
    await verifier.verify(a!);
    await verifier.verify(b!);
    await verifier.verify(a!); // a is now the most recent
    expect(verifications.count).toBe(2);
    await verifier.verify(c!); // evicts b
    await verifier.verify(a!);
    expect(verifications.count).toBe(3);
    await verifier.verify(b!);
    expect(verifications.count).toBe(4);
  });

  it("with cacheMaxEntries 0, verifies every time", async () => {
    const verifier = createTokenVerifier({ secret: SECRET }, { cacheMaxEntries: 0 });
    const token = await signToken(SECRET, { sub: "alice" });
    for (let i = 0; i < 3; i++) await verifier.verify(token);
    expect(verifications.count).toBe(3);
  });
});
