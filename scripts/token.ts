/**
 * Prints a bearer token this server accepts (the embedded default: HS256 with JWT_SECRET, or
 * the secret the server generated under DATA_DIR).
 *
 *   npm run token -- --user alice [--admin] [--expires 12h]
 *
 * Only the token goes to stdout, so `TOKEN=$(npm run -s token -- --user alice)` works.
 */
import { parseArgs } from "node:util";
import { MAX_SUBJECT_LENGTH, signToken } from "../src/platform/auth/jwt.js";
import { loadOrCreateSecret } from "../src/platform/auth/secret-store.js";

const USAGE = "usage: npm run token -- --user <id> [--admin] [--expires <duration, e.g. 12h, 30m, 7d>]";

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: { user?: string; admin?: boolean; expires?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        user: { type: "string", short: "u" },
        admin: { type: "boolean", default: false },
        expires: { type: "string", short: "e", default: "12h" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (process.env.JWKS_URL) {
    fail("JWKS_URL is set: this server accepts tokens from the identity provider only; get one there.");
  }
  const user = values.user?.trim();
  if (!user) fail(`--user is required\n${USAGE}`);
  if (user.length > MAX_SUBJECT_LENGTH) fail(`--user must be at most ${MAX_SUBJECT_LENGTH} characters`);
  const expires = values.expires ?? "12h";
  // A bare number would be read as seconds; jose's duration syntax ("90s", "12h", "7d") is clearer.
  const expiresIn = /^\d+$/.test(expires) ? Number(expires) : expires;

  const secret = process.env.JWT_SECRET || (await loadOrCreateSecret(process.env.DATA_DIR || ".data", "jwt-secret"));
  let token: string;
  try {
    token = await signToken(secret, {
      sub: user,
      role: values.admin ? "admin" : "user",
      expiresIn,
      ...(process.env.JWT_ISSUER ? { issuer: process.env.JWT_ISSUER } : {}),
      ...(process.env.JWT_AUDIENCE ? { audience: process.env.JWT_AUDIENCE } : {}),
    });
  } catch (error) {
    fail(`cannot create the token (check --expires "${expires}"): ${(error as Error).message}`);
  }
  process.stdout.write(`${token}\n`);
}

await main().catch((error: unknown) => fail(`token: ${(error as Error).message}`));
