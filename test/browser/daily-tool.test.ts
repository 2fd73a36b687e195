/**
 * The web app as a daily tool (issue 14), in headless Chromium against the real server process:
 * scan names that survive a reload, filters, uploads checked before sending and sent with
 * progress, a bar that matches its number, connection tests, edits and advice, findings
 * reports, the capacity page at 390 px, and a link state that always resolves.
 * Screenshots land in artifacts/screenshots/ (daily-*.png).
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBrowser, ensureWebBuilt, launchChromium, screenshot } from "../support/browser.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { codeOf, request } from "../support/graphql-client.js";
import { createScanTarget, type ScanTarget } from "../support/scan-target.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const PII = ["Klantenlijst", "Contact: jan.jansen@example.nl, tel. +31 6 12345678", "BSN 123456782, IBAN NL91ABNA0417164300"].join("\n");
const MB = 1024 * 1024;
/** A setting's name (MAX_BODY_SIZE and the like): never in what a person reads. */
const SETTING = /\b[A-Z][A-Z0-9]*_[A-Z0-9_]{3,}\b/;

async function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describeBrowser("the web app as a daily tool (issue 14)", () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWebBuilt();
    db = await createTestDatabase();
    [server, browser] = await Promise.all([
      // Progress written every 50 ms, so a 10 MB scan shows its way from 0% to 100%.
      startServerProcess({ DATABASE_URL: db.url, DATABASE_SCAN_STATEMENT_TIMEOUT: "120s", CAPACITY_SAMPLE_INTERVAL: "500ms", SCAN_PROGRESS_INTERVAL: "50ms" }),
      launchChromium(),
    ]);
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    await db?.drop();
  });

  async function pageFor(user: string, options: { admin?: boolean; viewport?: { width: number; height: number }; token?: string } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (e) => console.warn(`[page error] ${e.message}`));
    const token = options.token ?? (await server.token(user, { admin: options.admin }));
    await page.goto(`${server.base}/#token=${token}`);
    return page;
  }

  async function openSession(page: Page, name: string): Promise<void> {
    await page.getByLabel("New session name").fill(name);
    await page.getByRole("button", { name: "Open session" }).click();
    await page.getByLabel("Current session").waitFor();
  }

  async function saveConnection(page: Page, name: string, c: { host: string; port: number; database: string; user: string; password: string }): Promise<void> {
    await page.getByText("Add a connection").click();
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("Host", { exact: true }).fill(c.host);
    await page.getByLabel("Port", { exact: true }).fill(String(c.port));
    await page.getByLabel("Database", { exact: true }).fill(c.database);
    await page.getByLabel("User", { exact: true }).fill(c.user);
    await page.getByLabel("Password", { exact: true }).fill(c.password);
    await page.getByRole("button", { name: "Save connection" }).click();
    await page.getByTestId("connection").filter({ hasText: name }).waitFor();
  }

  const card = (page: Page, name: string) => page.locator("li.scan").filter({ has: page.getByTestId("scan-name").getByText(name, { exact: true }) });

  it("1, 3, 5: scans keep their names, times and durations after a reload; filters; the bar matches its number; CSV and printable report", async () => {
    const target: ScanTarget = await createScanTarget();
    try {
      const page = await pageFor("nina");
      await openSession(page, "Nina CRM audit");
      await page.locator("#files").setInputFiles([{ name: "customers.txt", mimeType: "text/plain", buffer: Buffer.from(PII) }]);
      await page.getByRole("button", { name: "Start scan" }).click();
      await card(page, "customers.txt").and(page.locator('[data-status="SUCCEEDED"]')).waitFor({ timeout: 30_000 });
      await saveConnection(page, "Local CRM", target);
      await page.getByRole("button", { name: "Scan Local CRM" }).click();
      await card(page, "Local CRM").and(page.locator('[data-status="SUCCEEDED"]')).waitFor({ timeout: 30_000 });

      await page.reload();
      const docs = card(page, "customers.txt");
      const crm = card(page, "Local CRM");
      await docs.waitFor({ timeout: 20_000 });
      await crm.waitFor();
      expect(await page.getByTestId("scan-name").allInnerTexts()).toEqual(expect.arrayContaining(["customers.txt", "Local CRM"]));
      expect(await page.getByText("Documents scan", { exact: true }).count()).toBe(0);
      expect(await page.getByText("Database scan", { exact: true }).count()).toBe(0);
      // Start time and duration on each card.
      for (const c of [docs, crm]) {
        expect(await c.getByTestId("scan-when").innerText()).toMatch(/\d{1,2}:\d{2}:\d{2}.* · took \d+ (s|min)/);
        expect(await c.locator("time").getAttribute("datetime")).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      }
      // The bar is drawn as full as its number says.
      for (const c of [docs, crm]) {
        expect(await c.getByTestId("scan-percent").innerText()).toBe("100%");
        const ratio = await c.evaluate((li) => {
          const bar = li.querySelector(".bar")!.getBoundingClientRect();
          const fill = li.querySelector(".fill")!.getBoundingClientRect();
          return fill.width / bar.width;
        });
        expect(ratio).toBeCloseTo(1, 2);
      }
      await screenshot(page, "daily-names-after-reload");

      // Filters run on the server.
      await page.getByLabel("Kind", { exact: true }).selectOption("DATABASE");
      await expect.poll(() => page.getByTestId("scan-name").allInnerTexts(), { timeout: 10_000 }).toEqual(["Local CRM"]);
      await page.getByLabel("Kind", { exact: true }).selectOption("");
      await page.getByLabel("Status", { exact: true }).selectOption("FAILED");
      await page.getByText("No scans match the filters.").waitFor({ timeout: 10_000 });
      await page.getByLabel("Status", { exact: true }).selectOption("SUCCEEDED");
      await expect.poll(async () => (await page.getByTestId("scan-name").allInnerTexts()).sort(), { timeout: 10_000 }).toEqual(["Local CRM", "customers.txt"]);
      await screenshot(page, "daily-filtered");
      // The same list on a phone: nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      const wide = await page.evaluate<string[]>(
        `[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > 391).slice(0, 5).map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`,
      );
      expect(wide).toEqual([]);
      expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      await screenshot(page, "daily-scans-390");
      await page.setViewportSize({ width: 1280, height: 900 });

      // Reports: a CSV download and a printable page, both with masked values only.
      const [download] = await Promise.all([page.waitForEvent("download"), docs.getByRole("button", { name: /^CSV/ }).click()]);
      expect(download.suggestedFilename()).toMatch(/^findings-customers\.txt-\d{4}-\d{2}-\d{2}\.csv$/);
      const csv = readFileSync((await download.path())!, "utf8");
      expect(csv.split("\r\n")[0]).toContain("scan_id,scan_name,type,severity,masked_value,location");
      expect(csv).toMatch(/customers\.txt,EMAIL,\w+,[^,]*\*[^,]*,customers\.txt:2/);
      expect(csv).not.toContain("jan.jansen@example.nl");
      expect(csv).not.toContain("NL91ABNA0417164300");
      const [popup] = await Promise.all([page.waitForEvent("popup"), crm.getByRole("button", { name: /^Report/ }).click()]);
      await popup.waitForLoadState();
      await popup.getByRole("heading", { name: "Findings report: Local CRM" }).waitFor({ timeout: 10_000 });
      const report = await popup.locator("body").innerText();
      expect(report).toMatch(/Risk level\s+CRITICAL/);
      expect(report).toMatch(/customers\.(email|bsn|iban)/);
      expect(report).not.toContain("klant0@example.nl");
      await screenshot(popup, "daily-report-printable");
      await popup.emulateMedia({ media: "print" });
      await screenshot(popup, "daily-report-print-media");

      // The API's own routes: Bearer token like /graphql; another user's scan is 404 alike.
      const scanId = await docs.getAttribute("data-scan-id");
      const url = `${server.base}/scans/${scanId}/report.csv`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${await server.token("mallory")}` } })).status).toBe(404);
      const mine = await fetch(url, { headers: { authorization: `Bearer ${await server.token("nina")}` } });
      expect(mine.status).toBe(200);
      expect(mine.headers.get("content-type")).toMatch(/^text\/csv/);
    } finally {
      await target.drop();
    }
  }, 150_000);

  it("2: uploads are checked before sending, in MB and words, and show their progress", async () => {
    const page = await pageFor("ulla");
    await openSession(page, "Ulla uploads");
    // The limits come from the server (uploadLimits), in MB and words.
    await expect.poll(() => page.getByTestId("limits").innerText(), { timeout: 10_000 }).toMatch(/Up to 10 MB per file, 12 MB and 1000 files per scan\./);
    expect(await page.getByTestId("limits").innerText()).toMatch(/^PDF, DOCX and text files \(TXT, CSV, TSV, JSON, MD, HTML, XML, LOG, YAML\)\./);
    // Uploads go out through XMLHttpRequest (for their progress): count what is sent.
    // (In-page code as strings: this file is typed for Node, without the DOM.)
    await page.evaluate(`(() => {
      window.uploads = 0;
      const send = XMLHttpRequest.prototype.send;
      XMLHttpRequest.prototype.send = function (body) {
        window.uploads++;
        return send.call(this, body);
      };
    })()`);
    const uploads = () => page.evaluate<number>("window.uploads");

    // Refused before anything is sent: a program, an empty file, one over the per-file limit.
    await page.locator("#files").setInputFiles([
      { name: "setup.exe", mimeType: "application/x-msdownload", buffer: Buffer.from("MZ\x90\x00") },
      { name: "empty.txt", mimeType: "text/plain", buffer: Buffer.alloc(0) },
      { name: "huge.txt", mimeType: "text/plain", buffer: Buffer.alloc(11 * MB, 0x61) },
    ]);
    const notes = page.getByTestId("upload-notes");
    await notes.waitFor();
    const text = await notes.innerText();
    expect(text).toMatch(/"setup\.exe" is a program, not a document/);
    expect(text).toMatch(/"empty\.txt" is empty \(0 bytes\)/);
    expect(text).toMatch(/"huge\.txt" is 11 MB; each file may be at most 10 MB/);
    expect(text).not.toMatch(SETTING);
    expect(await page.getByRole("button", { name: "Start scan" }).isDisabled()).toBe(true);
    expect(await uploads()).toBe(0);
    await screenshot(page, "daily-upload-refused");

    // Five files of 2 MB: read, sent with progress, and a card with the scan's name.
    const phases: string[] = [];
    await page.exposeFunction("notePhase", (p: string) => phases.push(p));
    await page.evaluate(`(() => {
      const seen = new Set();
      new MutationObserver(() => {
        const phase = document.querySelector("[data-testid=upload-progress]")?.getAttribute("data-phase");
        if (phase && !seen.has(phase)) {
          seen.add(phase);
          window.notePhase(phase);
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    })()`);
    const line = "Naam: Piet Pietersen, e-mail piet@example.nl, IBAN NL91ABNA0417164300\n";
    const big = (i: number) => ({ name: `big${i}.txt`, mimeType: "text/plain", buffer: Buffer.from(line.repeat(Math.floor((2 * MB) / line.length))) });
    await page.locator("#files").setInputFiles([1, 2, 3, 4, 5].map(big));
    expect(await page.getByTestId("picked").innerText()).toMatch(/^5 chosen \(10 MB\): big1\.txt, big2\.txt/);
    // Long tasks from the click until the card shows, for the report (measured, not asserted:
    // the machine is shared). Installed after the files are handed over (that is the test's cost).
    // Every state the card goes through: status, printed percent, drawn width, findings.
    await page.evaluate(`(() => {
      window.samples = [];
      new MutationObserver(() => {
        for (const li of document.querySelectorAll("li.scan")) {
          const pct = Number((li.querySelector("[data-testid=scan-percent]")?.textContent ?? "").replace("%", ""));
          const bar = li.querySelector(".bar").getBoundingClientRect().width;
          const fill = li.querySelector(".fill").getBoundingClientRect().width;
          const findings = Number(li.querySelector("[data-testid=scan-findings]")?.textContent ?? "0");
          const last = window.samples[window.samples.length - 1];
          const sample = { status: li.getAttribute("data-status"), pct, drawn: (fill / bar) * 100, findings };
          if (!last || last.status !== sample.status || last.pct !== sample.pct || last.findings !== sample.findings) window.samples.push(sample);
        }
      }).observe(document.querySelector("ul.scans"), { subtree: true, childList: true, attributes: true, characterData: true });
    })()`);
    await page.evaluate(`(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.longTasks.push(Math.round(e.duration));
      }).observe({ type: "longtask", buffered: false });
      window.clickAt = performance.now();
    })()`);
    await page.getByRole("button", { name: "Start scan" }).click();
    const started = card(page, "big1.txt + 4 more");
    await started.waitFor({ timeout: 60_000 });
    expect(await uploads()).toBe(1);
    expect(phases).toContain("reading");
    expect(phases.some((p) => p === "uploading" || p === "starting")).toBe(true);
    const m = await page.evaluate<{ longTasks: number[]; ms: number }>("({ longTasks: window.longTasks, ms: Math.round(performance.now() - window.clickAt) })");
    console.log(`[measure] 5 x 2 MB upload: phases ${phases.join(" > ")}; click to card <= ${m.ms} ms; long tasks [${m.longTasks.join(", ")}] ms`);
    await screenshot(page, "daily-upload-started");
    await page.locator('li.scan[data-status="SUCCEEDED"]').filter({ hasText: "big1.txt + 4 more" }).waitFor({ timeout: 90_000 });

    // 3: on the way, the bar moved through intermediate values, never back, drawn as full as
    // its number, and the findings count grew before the end.
    const samples = await page.evaluate<Array<{ status: string; pct: number; drawn: number; findings: number }>>("window.samples");
    const running = samples.filter((x) => x.status === "RUNNING");
    console.log(`[measure] 5 x 2 MB scan: ${running.length} running states seen, percents ${running.map((x) => x.pct).join(",")}; findings ${running.map((x) => x.findings).join(",")}`);
    expect(running.some((x) => x.pct > 0 && x.pct < 100)).toBe(true);
    for (let i = 1; i < running.length; i++) expect(running[i]!.pct).toBeGreaterThanOrEqual(running[i - 1]!.pct);
    for (const x of samples) expect(Math.abs(x.drawn - x.pct)).toBeLessThan(1.5);
    expect(running.some((x) => x.findings > 0)).toBe(true);
    expect(samples.at(-1)).toMatchObject({ status: "SUCCEEDED", pct: 100 });
  }, 180_000);

  it("4: Test connection, Edit, and scan errors that say what to do next", async () => {
    const target: ScanTarget = await createScanTarget();
    try {
      const page = await pageFor("otto");
      await openSession(page, "Otto connections");
      // This PostgreSQL trusts 127.0.0.1 (any password passes): an unknown role is what it refuses.
      await saveConnection(page, "CRM", { ...target, user: "no_such_role", password: "not-the-password" });
      const conn = page.getByTestId("connection").filter({ hasText: "CRM" });
      await conn.getByRole("button", { name: /Test connection/ }).click();
      await expect.poll(() => conn.getByTestId("connection-test").innerText(), { timeout: 20_000 }).toMatch(/refused the password for "no_such_role": edit the connection/);
      await screenshot(page, "daily-connection-refused");

      // A scan with the wrong password says the same, on the card.
      await page.getByRole("button", { name: "Scan CRM" }).click();
      const failed = page.locator('li.scan[data-status="FAILED"]').filter({ hasText: "CRM" });
      await failed.waitFor({ timeout: 30_000 });
      expect(await failed.getByTestId("scan-error").innerText()).toMatch(/refused the password .*: edit the connection/);

      // Edit in place (same connection id): the right user and password, then the test passes.
      const id = await conn.getAttribute("data-connection-id");
      await conn.getByRole("button", { name: /^Edit/ }).click();
      expect(await page.getByLabel("Host", { exact: true }).inputValue()).toBe(target.host);
      expect(await page.getByLabel("User", { exact: true }).inputValue()).toBe("no_such_role");
      await page.getByLabel("User", { exact: true }).fill(target.user);
      await page.getByLabel("Password", { exact: true }).fill(target.password);
      await page.getByRole("button", { name: "Save changes" }).click();
      const fixed = page.getByTestId("connection").filter({ hasText: `${target.user}@${target.host}` });
      await fixed.waitFor({ timeout: 10_000 });
      expect(await page.getByTestId("connection").count()).toBe(1);
      expect(await fixed.getAttribute("data-connection-id")).toBe(id);
      await fixed.getByRole("button", { name: /Test connection/ }).click();
      await expect.poll(() => fixed.getByTestId("connection-test").innerText(), { timeout: 20_000 }).toMatch(/^Connected/);
      // A second edit with the password left empty keeps the stored one.
      await fixed.getByRole("button", { name: /^Edit/ }).click();
      await page.getByLabel("Name", { exact: true }).fill("CRM main");
      await page.getByRole("button", { name: "Save changes" }).click();
      const renamed = page.getByTestId("connection").filter({ hasText: "CRM main" });
      await renamed.waitFor({ timeout: 10_000 });
      expect(await renamed.getAttribute("data-connection-id")).toBe(id);
      await renamed.getByRole("button", { name: /Test connection/ }).click();
      await expect.poll(() => renamed.getByTestId("connection-test").innerText(), { timeout: 20_000 }).toMatch(/^Connected/);
      // Another user cannot change it: NOT_FOUND, as for an unknown id.
      const foreign = await request(server.url, `mutation ($id: ID!) { updateDatabaseConnection(id: $id, changes: { host: "evil.example" }) { id } }`, { id }, await server.token("mallory"));
      expect(codeOf(foreign)).toBe("NOT_FOUND");

      // Nothing listening: the advice names host and port.
      const port = await unusedPort();
      await saveConnection(page, "Gone", { ...target, port });
      await page.getByRole("button", { name: "Scan Gone" }).click();
      const gone = page.locator('li.scan[data-status="FAILED"]').filter({ hasText: "Gone" });
      await gone.waitFor({ timeout: 30_000 });
      expect(await gone.getByTestId("scan-error").innerText()).toBe(
        `Could not connect to ${target.host}:${port}: is the database running? Check the host, the port and the SSL setting, and that a firewall or VPN lets this server reach it.`,
      );
      expect(await page.locator("body").innerText()).not.toMatch(SETTING);
      await screenshot(page, "daily-connection-advice");
    } finally {
      await target.drop();
    }
  }, 150_000);

  it("6: capacity page at 390 px: time axis, range selector, alerts in time order, nothing cut off", async () => {
    const page = await pageFor("ops", { admin: true, viewport: { width: 390, height: 844 } });
    await page.getByRole("button", { name: "Capacity" }).click();
    const dash = page.getByTestId("capacity");
    await dash.waitFor({ timeout: 20_000 });
    await expect.poll(async () => Number(await page.getByTestId("history-chart").getAttribute("data-points")), { timeout: 20_000 }).toBeGreaterThan(1);
    expect(await page.getByTestId("time-tick").count()).toBeGreaterThanOrEqual(2);
    const tickTexts = () => page.getByTestId("time-tick").evaluateAll((els) => els.map((e) => e.textContent ?? ""));
    const ticks = await tickTexts();
    for (const t of ticks) expect(t).toMatch(/\d{1,2}[:.]\d{2}/);
    // Drawn at its own width: tick labels render at their CSS size, not scaled down.
    const tickPx = await page.locator("[data-testid=time-tick] text").first().evaluate((el) => el.getBoundingClientRect().height);
    expect(tickPx).toBeGreaterThanOrEqual(9);
    // Nothing wider than the screen.
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    // The queue is empty: no active queue-wait alert and no queue advice.
    expect(await page.getByTestId("tile-scans").innerText()).toMatch(/0 queued/);
    const activeAlerts = await page.locator('[data-testid=alert][data-cleared="false"]').allInnerTexts();
    expect(activeAlerts.filter((a) => /queue wait/i.test(a))).toEqual([]);
    expect(await page.getByRole("heading", { name: "Recommendations" }).locator("..").innerText()).not.toMatch(/queue/i);
    await screenshot(page, "daily-capacity-390");

    await page.getByLabel("Range").selectOption("10080");
    await page.getByRole("heading", { name: "Last 7 days" }).waitFor();
    await expect.poll(async () => (await tickTexts()).every((t) => /^\w{2,4}\.? \d{1,2}[:.]\d{2}/.test(t)), { timeout: 10_000 }).toBe(true);
    // Alerts, if any: newest first, cleared ones grey, never a red "CRITICAL" badge.
    const alerts = page.getByTestId("alert");
    const times = (await alerts.evaluateAll((els) => els.map((e) => e.getAttribute("data-at") ?? ""))).map((t) => Date.parse(t));
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeLessThanOrEqual(times[i - 1]!);
    for (let i = 0; i < (await alerts.count()); i++) {
      const a = alerts.nth(i);
      if ((await a.getAttribute("data-cleared")) === "true") expect(await a.locator(".badge").getAttribute("class")).toBe("badge cleared");
    }
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await screenshot(page, "daily-capacity-390-7days");
  }, 90_000);

  it("7: the link badge resolves without a session; an expiring token shows and offers sign-in; a sign-in link switches user in the same tab", async () => {
    // No session at all: the badge still says Live (the socket opens at once).
    const page = await pageFor("vera", { token: await server.token("vera", { expiresIn: 12 }) });
    await page.getByText("No open session yet").waitFor({ timeout: 20_000 });
    await expect.poll(() => page.getByTestId("link").innerText(), { timeout: 15_000 }).toBe("Live");
    await screenshot(page, "daily-live-without-session");

    // The token expires while the page sits there: Signed out, and a way back in.
    await page.getByTestId("signed-out").waitFor({ timeout: 20_000 });
    expect(await page.getByTestId("link").innerText()).toBe("Signed out");
    await screenshot(page, "daily-token-expired");
    await page.getByLabel("New access token").fill(await server.token("vera"));
    await page.getByRole("button", { name: "Sign in again" }).click();
    await expect.poll(() => page.getByTestId("link").innerText(), { timeout: 15_000 }).toBe("Live");
    expect(await page.getByTestId("signed-out").count()).toBe(0);

    // Another user's sign-in link, opened in the same tab (only the fragment changes).
    await page.goto(`${server.base}/#token=${await server.token("walt")}`);
    await expect.poll(() => page.getByTestId("viewer").innerText(), { timeout: 15_000 }).toBe("walt");
    expect(page.url()).not.toContain("token=");
    await expect.poll(() => page.getByTestId("link").innerText(), { timeout: 15_000 }).toBe("Live");
    await screenshot(page, "daily-switched-user");
  }, 90_000);
});
