import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * Secrets generated on first start (the JWT secret when `JWT_SECRET` is unset, the
 * at-rest encryption key when `ENCRYPTION_KEY` is unset), kept in `<dataDir>/secrets/<name>`.
 *
 * Creation is atomic and race-free across processes: the value is written and fsynced to a
 * private temporary file, then hard-linked to its final name. `link` fails with EEXIST when
 * another process won, and then we read the winner's value; a reader never sees a half-written
 * file. (A `rename` would silently replace the winner's file, so two processes could each
 * return a different secret; an `wx` open of the final name would expose an empty file to a
 * concurrent reader until it is written. Filesystems without hard links fall back to the
 * `wx` open, and readers retry briefly on an empty file.)
 *
 * @returns the secret as base64url text (`bytes` random bytes).
 * @default bytes 48
 */
export async function loadOrCreateSecret(dataDir: string, name: string, bytes = 48): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new Error(`secret name "${name}" is not a plain file name`);
  if (!Number.isInteger(bytes) || bytes < 16 || bytes > 1024) throw new Error("secret size must be 16..1024 bytes");

  const dir = join(dataDir, "secrets");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await tightenMode(dir, 0o700);
  const file = join(dir, name);

  const existing = await readSecret(file);
  if (existing !== undefined) return existing;

  const value = randomBytes(bytes).toString("base64url");
  const temp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  await writeNew(temp, value);
  try {
    await link(temp, file);
    return value;
  } catch (error) {
    if (code(error) === "EEXIST") return readWinner(file);
    if (["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"].includes(code(error) ?? "")) {
      return createWithoutLink(file, value);
    }
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function writeNew(path: string, value: string): Promise<void> {
  const handle = await open(path, "wx", 0o600);
  try {
    await handle.writeFile(value, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function createWithoutLink(file: string, value: string): Promise<string> {
  try {
    await writeNew(file, value);
    return value;
  } catch (error) {
    if (code(error) === "EEXIST") return readWinner(file);
    throw error;
  }
}

/** The file exists: another process created it, possibly still writing it (fallback path only). */
async function readWinner(file: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const value = await readSecret(file);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`secret file ${file} exists but stays empty; remove it to generate a new secret`);
}

/** The trimmed value, or undefined when the file is missing or (still) empty. */
async function readSecret(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if (code(error) === "ENOENT") return undefined;
    throw error;
  }
  const value = text.trim();
  if (value.length === 0) return undefined;
  await tightenMode(file, 0o600);
  return value;
}

/** A secret file someone made group/world-readable is made private again (we own it). */
async function tightenMode(path: string, mode: number): Promise<void> {
  if (process.platform === "win32") return;
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) await chmod(path, mode);
}

function code(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}
