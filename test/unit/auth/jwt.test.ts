import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AuthError, createTokenVerifier, parseBearer, signToken, type AuthFailureReason } from "../../../src/platform/auth/jwt.js";

const SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const enc = (s: string) => new TextEncoder().encode(s);
const nowSec = () => Math.floor(Date.now() / 1000);

/** A token with arbitrary header and claims, HMAC-signed; the building block of the negative cases. */
async function hmacToken(
  claims: Record<string, unknown>,
  opts: { alg?: string; secret?: string; exp?: number | null } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? "HS256" });
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? nowSec() + 600);
  return jwt.sign(enc(opts.secret ?? SECRET));
}

async function expectAuthError(promise: Promise<unknown>, reason: AuthFailureReason): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  expect((error as AuthError).reason).toBe(reason);
}

describe("HS256 verification", () => {
  const verifier = createTokenVerifier({ secret: SECRET });

  it("accepts a valid token and returns the user", async () => {
    const token = await signToken(SECRET, { sub: "alice" });
    await expect(verifier.verify(token)).resolves.toEqual({ id: "alice", role: "USER", expiresAt: expect.any(Number) });
  });

  it("refuses an expired token", async () => {
    const token = await hmacToken({ sub: "alice" }, { exp: nowSec() - 60 });
    await expectAuthError(verifier.verify(token), "expired");
  });

  it("tolerates small clock skew (default 5 s) but no more", async () => {
    await expect(verifier.verify(await hmacToken({ sub: "a" }, { exp: nowSec() - 2 }))).resolves.toMatchObject({ id: "a" });
    await expectAuthError(verifier.verify(await hmacToken({ sub: "a" }, { exp: nowSec() - 10 })), "expired");
  });

  it("refuses a token without exp", async () => {
    const token = await hmacToken({ sub: "alice" }, { exp: null });
    await expectAuthError(verifier.verify(token), "invalid");
  });

  it("refuses a non-numeric exp", async () => {
    const token = await new SignJWT({ sub: "alice", exp: "tomorrow" as unknown as number })
      .setProtectedHeader({ alg: "HS256" })
      .sign(enc(SECRET));
    await expectAuthError(verifier.verify(token), "invalid");
  });

  it("refuses a token signed with another secret", async () => {
    const token = await hmacToken({ sub: "alice" }, { secret: "another-secret-of-sufficient-length-xxxxxxxx" });
    await expectAuthError(verifier.verify(token), "invalid");
  });

  it("refuses alg none", async () => {
    const token = new UnsecuredJWT({ sub: "alice" }).setExpirationTime("1h").encode();
    expect(token.split(".")[2]).toBe("");
    await expectAuthError(verifier.verify(token), "invalid");
  });

  it("refuses alg none even when the signature part is filled in", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    const body = Buffer.from(JSON.stringify({ sub: "alice", exp: nowSec() + 600 })).toString("base64url");
    await expectAuthError(verifier.verify(`${header}.${body}.c2lnbmF0dXJl`), "invalid");
  });

  it("refuses HS512 when only HS256 is allowed, accepts it when configured", async () => {
    const token = await hmacToken({ sub: "alice" }, { alg: "HS512" });
    await expectAuthError(verifier.verify(token), "invalid");
    const both = createTokenVerifier({ secret: SECRET, algorithms: ["HS256", "HS512"] });
    await expect(both.verify(token)).resolves.toEqual({ id: "alice", role: "USER", expiresAt: expect.any(Number) });
    await expect(both.verify(await signToken(SECRET, { sub: "bob" }))).resolves.toEqual({ id: "bob", role: "USER", expiresAt: expect.any(Number) });
  });

  it("refuses a tampered payload", async () => {
    const token = await signToken(SECRET, { sub: "alice" });
    const [h, , s] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ sub: "alice", role: "admin", exp: nowSec() + 600 })).toString("base64url");
    await expectAuthError(verifier.verify(`${h}.${forged}.${s}`), "invalid");
  });

  it.each(["", "garbage", "a.b.c", "x".repeat(20_000)])("refuses malformed token %#", async (token) => {
    await expectAuthError(verifier.verify(token), token === "" ? "missing" : "invalid");
  });

  it("refuses a token that is not yet valid (nbf)", async () => {
    const token = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "HS256" })
      .setNotBefore(nowSec() + 120)
      .setExpirationTime("1h")
      .sign(enc(SECRET));
    await expectAuthError(verifier.verify(token), "invalid");
  });
});

describe("issuer and audience", () => {
  it("are checked when configured", async () => {
    const verifier = createTokenVerifier({ secret: SECRET, issuer: "https://idp.example", audience: "dataguardian" });
    const good = await signToken(SECRET, { sub: "alice", issuer: "https://idp.example", audience: "dataguardian" });
    await expect(verifier.verify(good)).resolves.toEqual({ id: "alice", role: "USER", expiresAt: expect.any(Number) });

    const wrongIss = await signToken(SECRET, { sub: "alice", issuer: "https://evil.example", audience: "dataguardian" });
    const wrongAud = await signToken(SECRET, { sub: "alice", issuer: "https://idp.example", audience: "other" });
    const none = await signToken(SECRET, { sub: "alice" });
    await expectAuthError(verifier.verify(wrongIss), "invalid");
    await expectAuthError(verifier.verify(wrongAud), "invalid");
    await expectAuthError(verifier.verify(none), "invalid");
  });

  it("are not checked when not configured", async () => {
    const verifier = createTokenVerifier({ secret: SECRET });
    const token = await signToken(SECRET, { sub: "alice", issuer: "https://anything", audience: "whatever" });
    await expect(verifier.verify(token)).resolves.toEqual({ id: "alice", role: "USER", expiresAt: expect.any(Number) });
  });
});

describe("claims", () => {
  const verifier = createTokenVerifier({ secret: SECRET });

  it.each([
    [{ role: "admin" }, "ADMIN"],
    [{ role: "user" }, "USER"],
    [{}, "USER"],
  ] as const)("role %j maps to %s", async (claims, role) => {
    await expect(verifier.verify(await hmacToken({ sub: "u1", ...claims }))).resolves.toEqual({ id: "u1", role, expiresAt: expect.any(Number) });
  });

  it.each([["ADMIN"], ["Admin"], ["superuser"], [""], [null], [1], [["admin"]], [{ admin: true }]])(
    "role %j is refused",
    async (role) => {
      await expectAuthError(verifier.verify(await hmacToken({ sub: "u1", role })), "invalid");
    },
  );

  it.each([[undefined], [""], [42], [["alice"]], ["x".repeat(201)]])("sub %j is refused", async (sub) => {
    const claims = sub === undefined ? {} : { sub };
    await expectAuthError(verifier.verify(await hmacToken(claims)), "invalid");
  });

  it("accepts a 200-character sub", async () => {
    const sub = "s".repeat(200);
    await expect(verifier.verify(await hmacToken({ sub }))).resolves.toEqual({ id: sub, role: "USER", expiresAt: expect.any(Number) });
  });

  it("signToken sets role, and a numeric expiresIn means seconds from now", async () => {
    const token = await signToken(SECRET, { sub: "root", role: "admin", expiresIn: 120 });
    await expect(verifier.verify(token)).resolves.toEqual({ id: "root", role: "ADMIN", expiresAt: expect.any(Number) });
    const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number };
    expect(payload.exp - nowSec()).toBeGreaterThan(100);
    expect(payload.exp - nowSec()).toBeLessThanOrEqual(120);
  });
});

describe("cache", () => {
  it("serves a repeated token without changing the answer, and still refuses failures", async () => {
    const verifier = createTokenVerifier({ secret: SECRET });
    const token = await signToken(SECRET, { sub: "alice", role: "admin" });
    const first = await verifier.verify(token);
    first.role = "USER"; // a caller mutating its copy must not poison the cache
    const second = await verifier.verify(token); // served from the cache
    second.role = "USER";
    await expect(verifier.verify(token)).resolves.toEqual({ id: "alice", role: "ADMIN", expiresAt: expect.any(Number) });
    const bad = await hmacToken({ sub: "alice" }, { secret: "nope-nope-nope-nope-nope-nope-nope" });
    await expectAuthError(verifier.verify(bad), "invalid");
    await expectAuthError(verifier.verify(bad), "invalid");
  });

  it("never serves a token past its exp", async () => {
    const verifier = createTokenVerifier({ secret: SECRET, clockToleranceSec: 0 });
    const token = await signToken(SECRET, { sub: "alice", expiresIn: 1 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ id: "alice" });
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 2_100 });
    try {
      await expectAuthError(verifier.verify(token), "expired");
    } finally {
      vi.useRealTimers();
    }
  });

  it("carries the token's exp (ms) on every answer, fresh or cached, and caches no longer than that", async () => {
    const verifier = createTokenVerifier({ secret: SECRET, clockToleranceSec: 0 });
    const exp = nowSec() + 30;
    const token = await hmacToken({ sub: "alice" }, { exp });
    await expect(verifier.verify(token)).resolves.toEqual({ id: "alice", role: "USER", expiresAt: exp * 1000 });
    await expect(verifier.verify(token)).resolves.toEqual({ id: "alice", role: "USER", expiresAt: exp * 1000 }); // cached
    vi.useFakeTimers({ toFake: ["Date"], now: exp * 1000 + 1 });
    try {
      await expectAuthError(verifier.verify(token), "expired");
    } finally {
      vi.useRealTimers();
    }
  });

  it("stays bounded (LRU eviction keeps working tokens valid)", async () => {
    const verifier = createTokenVerifier({ secret: SECRET }, { cacheMaxEntries: 2 });
    const tokens = await Promise.all(["a", "b", "c", "d"].map((sub) => signToken(SECRET, { sub })));
    for (const t of [...tokens, ...tokens]) await expect(verifier.verify(t)).resolves.toMatchObject({ role: "USER" });
  });
});

describe("configuration", () => {
  it.each([
    [{}, /JWT_SECRET/],
    [{ secret: SECRET, algorithms: ["none"] }, /none/],
    [{ secret: SECRET, algorithms: ["RS256"] }, /RS256/],
    [{ secret: SECRET, algorithms: [] }, /empty/],
    [{ jwksUrl: "https://idp.example/jwks", algorithms: ["HS256"] }, /HS256/],
    [{ jwksUrl: "http://idp.example/jwks" }, /https/],
    [{ jwksUrl: "not a url" }, /JWKS_URL/],
  ])("refuses %j", (settings, message) => {
    expect(() => createTokenVerifier(settings)).toThrow(message);
  });
});

describe("parseBearer", () => {
  it.each([
    ["Bearer abc.def.ghi", "abc.def.ghi"],
    ["bearer abc", "abc"],
    ["BEARER abc", "abc"],
    ["Bearer   abc  ", "abc"],
    ["  Bearer abc", "abc"],
    ["Bearer a-b_c~d+e/f==", "a-b_c~d+e/f=="],
    ["Bearer", null],
    ["Bearer ", null],
    ["Bearerabc", null],
    ["Basic dXNlcjpwYXNz", null],
    ["abc.def.ghi", null],
    ["Bearer abc def", null],
    ["Bearer a=b", null],
    ["", null],
    [undefined, null],
    [null, null],
  ])("%j → %j", (header, expected) => {
    expect(parseBearer(header)).toBe(expected);
  });
});

describe("JWKS", () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;
  let requests = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256");
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "key-1", alg: "RS256", use: "sig" };
    const body = JSON.stringify({ keys: [jwk] });
    server = createServer((req, res) => {
      requests++;
      if (req.url !== "/.well-known/jwks.json") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const rsToken = (key: CryptoKey, kid = "key-1", claims: Record<string, unknown> = { sub: "carol", role: "admin" }) =>
    new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid }).setExpirationTime("10m").sign(key);

  it("verifies an RS256 token signed with the provider's key", async () => {
    const verifier = createTokenVerifier({ jwksUrl });
    await expect(verifier.verify(await rsToken(privateKey))).resolves.toEqual({ id: "carol", role: "ADMIN", expiresAt: expect.any(Number) });
    expect(requests).toBeGreaterThan(0);
  });

  it("refuses a token signed by another key, with the same kid or an unknown one", async () => {
    const verifier = createTokenVerifier({ jwksUrl });
    const other = await generateKeyPair("RS256");
    await expectAuthError(verifier.verify(await rsToken(other.privateKey)), "invalid");
    await expectAuthError(verifier.verify(await rsToken(other.privateKey, "key-2")), "invalid");
  });

  it("refuses HS256 tokens in JWKS mode, even when a secret is also configured", async () => {
    const verifier = createTokenVerifier({ jwksUrl, secret: SECRET });
    await expectAuthError(verifier.verify(await signToken(SECRET, { sub: "carol" })), "invalid");
  });

  it("refuses an RS256 token without exp", async () => {
    const verifier = createTokenVerifier({ jwksUrl });
    const token = await new SignJWT({ sub: "carol" }).setProtectedHeader({ alg: "RS256", kid: "key-1" }).sign(privateKey);
    await expectAuthError(verifier.verify(token), "invalid");
  });

  it("reports an unreachable provider as unavailable", async () => {
    const verifier = createTokenVerifier({ jwksUrl: jwksUrl.replace("/.well-known/jwks.json", "/missing") });
    await expectAuthError(verifier.verify(await rsToken(privateKey)), "unavailable");
  });
});
