/**
 * Headless Chromium for the browser tests: Debian's `chromium` (apt-get install -y chromium)
 * driven by playwright-core, which downloads no browser of its own. Without
 * /usr/bin/chromium the browser suites skip with one line, unless REQUIRE_BROWSER=1 (CI),
 * where a missing browser is a failure.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { describe } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.join(root, "artifacts", "screenshots");

const present = existsSync(CHROMIUM);
if (!present && process.env.REQUIRE_BROWSER === "1") {
  throw new Error(`REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: apt-get install -y chromium`);
}
if (!present) {
  console.warn(`[browser tests] SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium; REQUIRE_BROWSER=1 makes this a failure)`);
}
/** `describe`, or `describe.skip` when there is no Chromium. */
export const describeBrowser = present ? describe : describe.skip;

/**
 * Flags for this closed network: no background, sync or component-update traffic (each a
 * refused connection here), no QUIC, no GPU, no sandbox (tests run as root). playwright adds
 * `--headless` and a fresh temporary `--user-data-dir` per launch itself (it refuses a
 * `--user-data-dir` in `args`), and removes it on close.
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds web/dist when it is missing or older than the sources, so the tests see this checkout's client. */
export function ensureWebBuilt(): void {
  const web = path.join(root, "web");
  const built = path.join(web, "dist", "index.html");
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(web)) return;
  // A production build, as `npm install` makes and people get: under vitest NODE_ENV is "test",
  // which would give React's development build (StrictMode runs effects twice there).
  const result = spawnSync("npm", ["run", "build:web"], { cwd: root, encoding: "utf8", env: { ...process.env, NODE_ENV: "production" } });
  if (result.status !== 0) throw new Error(`npm run build:web failed:\n${result.stdout}\n${result.stderr}`);
}
