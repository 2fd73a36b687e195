/**
 * The browser clients as people use them (issue 7): headless Chromium against the real
 * server process on the test PostgreSQL (embedded unless DATABASE_URL is set).
 * Screenshots land in artifacts/screenshots/.
 */
import type { Browser, BrowserContext, Page, WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { StartDatabaseScanDocument, OpenSessionDocument, SaveDatabaseConnectionDocument, CancelScanDocument } from "../generated/graphql.js";
import { describeBrowser, ensureWebBuilt, launchChromium, screenshot } from "../support/browser.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { request } from "../support/graphql-client.js";
import { createScanTarget, type ScanTarget } from "../support/scan-target.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const PII_TEXT = [
  "Personeelsdossier",
  "Contact: jan.jansen@example.nl, tel. +31 6 12345678",
  "BSN 123456782, IBAN NL91ABNA0417164300",
].join("\n");

describeBrowser("browser clients (SPA and explorer)", () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Every URL any page asked for: the explorer and the SPA must stay on loopback. */
  const requested: string[] = [];

  beforeAll(async () => {
    ensureWebBuilt();
    db = await createTestDatabase();
    [server, browser] = await Promise.all([
      startServerProcess({
        DATABASE_URL: db.url,
        DATABASE_SCAN_STATEMENT_TIMEOUT: "120s",
        CAPACITY_SAMPLE_INTERVAL: "500ms",
        // As in production: only admins may introspect, so the explorer's refusal path is real.
        INTROSPECTION: "false",
      }),
      launchChromium(),
    ]);
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    await db?.drop();
  });

  async function pageFor(user: string | null, options: { admin?: boolean; path?: string; viewport?: { width: number; height: number } } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on("request", (r) => requested.push(r.url()));
    page.on("pageerror", (e) => console.warn(`[page error] ${e.message}`));
    const token = user ? await server.token(user, { admin: options.admin }) : "";
    await page.goto(`${server.base}${options.path ?? "/"}${token ? `#token=${token}` : ""}`);
    return page;
  }

  const scanItem = (page: Page, status?: string) => page.locator(`li.scan${status ? `[data-status="${status}"]` : ""}`);

  it("explorer: loads from this server only, runs `capacity` for an admin", async () => {
    const before = requested.length;
    const page = await pageFor(null, { path: "/explorer" });
    await page.getByLabel("Token").fill(await server.token("root", { admin: true }));
    await page.getByRole("button", { name: "Use token" }).click();
    await expect.poll(() => page.locator(".graphiql-container").count(), { timeout: 20_000 }).toBe(1);
    // The first tab is the capacity example, with what tells a cleared alert from an active one; run it.
    await expect.poll(() => page.locator(".graphiql-query-editor").innerText(), { timeout: 20_000 }).toContain("clearedAt");
    await page.locator(".graphiql-execute-button").click();
    await expect
      .poll(() => page.locator(".graphiql-response").innerText(), { timeout: 20_000 })
      .toMatch(/"capacity"[\s\S]*"level"/);
    expect(await page.locator("[data-testid=introspection-denied]").count()).toBe(0);
    await screenshot(page, "explorer-capacity");
    const mine = requested.slice(before);
    expect(mine.length).toBeGreaterThan(3);
    const offLoopback = mine.filter((u) => !/^(https?|wss?):\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(u) && !u.startsWith("data:") && !u.startsWith("blob:"));
    expect(offLoopback).toEqual([]);
  });

  it("explorer: tells a non-admin that only admins can introspect", async () => {
    const page = await pageFor("mallory", { path: "/explorer" });
    const banner = page.getByTestId("introspection-denied");
    await expect.poll(() => banner.count(), { timeout: 20_000 }).toBe(1);
    expect(await banner.innerText()).toMatch(/Only admins can introspect/);
    expect(await banner.innerText()).toMatch(/admin token/);
    await screenshot(page, "explorer-introspection-denied");
  });

  it("SPA: a user scans a document, sees progress reach 100% and masked findings; another user sees none of it", async () => {
    const alice = await pageFor("alice");
    await alice.getByLabel("New session name").fill("Alice HR archive");
    await alice.getByRole("button", { name: "Open session" }).click();
    await alice.getByLabel("Current session").waitFor();
    await alice.locator("#files").setInputFiles([{ name: "dossier.txt", mimeType: "text/plain", buffer: Buffer.from(PII_TEXT) }]);
    await alice.getByRole("button", { name: "Start scan" }).click();
    const done = scanItem(alice, "SUCCEEDED");
    await done.waitFor({ timeout: 30_000 });
    expect(await done.getByTestId("scan-percent").innerText()).toBe("100%");
    expect(await done.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
    await done.getByRole("button", { name: /Findings/ }).click();
    const masked = alice.getByTestId("masked");
    await masked.first().waitFor();
    const values = await masked.allInnerTexts();
    expect(values.length).toBeGreaterThanOrEqual(3);
    for (const v of values) expect(v).toContain("*");
    const text = await alice.locator("body").innerText();
    expect(text).not.toContain("jan.jansen@example.nl");
    expect(text).not.toContain("NL91ABNA0417164300");
    expect(text).not.toContain("123456782");
    expect(text).toMatch(/dossier\.txt/);
    await screenshot(alice, "spa-alice-findings");

    // Filters run on the server: the table (and its count) show only the chosen type.
    await alice.getByLabel("Type", { exact: true }).selectOption("EMAIL");
    await expect
      .poll(async () => {
        const rows = await alice.getByTestId("finding").allInnerTexts();
        return rows.length > 0 && rows.every((r) => /E-mail/.test(r));
      }, { timeout: 10_000 })
      .toBe(true);

    const bob = await pageFor("bob");
    await bob.getByText("No open session yet").waitFor();
    const bobText = await bob.locator("body").innerText();
    expect(bobText).not.toContain("Alice HR archive");
    expect(await scanItem(bob).count()).toBe(0);
    await bob.getByLabel("New session name").fill("Bob's");
    await bob.getByRole("button", { name: "Open session" }).click();
    await bob.getByText("No scans in this session yet.").waitFor();
    expect(await scanItem(bob).count()).toBe(0);
    await screenshot(bob, "spa-bob-sees-nothing");
  }, 90_000);

  it("SPA: saves a database connection and scans it; progress survives a reload and a dropped socket; cancel works", async () => {
    const target: ScanTarget = await createScanTarget();
    try {
      await target.lock(); // the scan blocks on the locked table until released
      const page = await pageFor("dora");
      await page.getByLabel("New session name").fill("Dora CRM");
      await page.getByRole("button", { name: "Open session" }).click();
      await page.getByLabel("Current session").waitFor();
      await page.getByText("Add a connection").click();
      await page.getByLabel("Name", { exact: true }).fill("crm");
      await page.getByLabel("Host", { exact: true }).fill(target.host);
      await page.getByLabel("Port", { exact: true }).fill(String(target.port));
      await page.getByLabel("Database", { exact: true }).fill(target.database);
      await page.getByLabel("User", { exact: true }).fill(target.user);
      await page.getByLabel("Password", { exact: true }).fill(target.password);
      await page.getByRole("button", { name: "Save connection" }).click();
      await page.getByRole("button", { name: "Scan crm" }).click();
      const running = scanItem(page, "RUNNING");
      await running.waitFor({ timeout: 20_000 });
      const scanId = await running.getAttribute("data-scan-id");
      expect(scanId).toBeTruthy();
      await screenshot(page, "spa-db-scan-running");

      // Every socket from here on passes through the test, which can drop it.
      const sockets: WebSocketRoute[] = [];
      await page.routeWebSocket(/\/graphql$/, (ws) => {
        ws.connectToServer();
        sockets.push(ws);
      });
      await page.reload();
      const resumed = page.locator(`li.scan[data-scan-id="${scanId}"]`);
      await resumed.waitFor({ timeout: 20_000 });
      expect(await resumed.getAttribute("data-status")).toBe("RUNNING");
      await expect.poll(() => page.locator(".link-live").count(), { timeout: 10_000 }).toBe(1);
      await screenshot(page, "spa-db-scan-after-reload");

      // Drop the socket, and let the scan finish while it is down: on reconnect the SPA re-reads
      // `scans` and resubscribes, so the bar still ends at 100%.
      expect(sockets.length).toBe(1);
      await sockets[0]!.close({ code: 1001, reason: "test: going away" });
      await target.release();
      await expect.poll(() => sockets.length, { timeout: 20_000 }).toBe(2);
      await expect.poll(() => page.locator(".link-live").count(), { timeout: 10_000 }).toBe(1);
      await page.locator(`li.scan[data-scan-id="${scanId}"][data-status="SUCCEEDED"]`).waitFor({ timeout: 30_000 });
      expect(await resumed.getByTestId("scan-percent").innerText()).toBe("100%");
      expect(await page.getByTestId("announcer").innerText()).toMatch(/succeeded/);
      await resumed.getByRole("button", { name: /Findings/ }).click();
      await page.getByTestId("masked").first().waitFor();
      const locations = await page.getByTestId("finding").allInnerTexts();
      expect(locations.join("\n")).toMatch(/customers\.(email|bsn|iban)/);
      expect(locations.join("\n")).not.toContain("klant0@example.nl");
      await screenshot(page, "spa-db-scan-findings");

      // Cancel: a second scan blocks on the lock again; the Cancel button ends it.
      await target.lock();
      await page.getByRole("button", { name: "Scan crm" }).click();
      const second = scanItem(page, "RUNNING");
      await second.waitFor({ timeout: 20_000 });
      const secondId = await second.getAttribute("data-scan-id");
      await second.getByRole("button", { name: /Cancel/ }).click();
      await page.locator(`li.scan[data-scan-id="${secondId}"][data-status="CANCELLED"]`).waitFor({ timeout: 10_000 });
    } finally {
      await target.drop();
    }
  }, 120_000);

  it("SPA: an admin's capacity dashboard updates live while scans run (narrow screen)", async () => {
    const target: ScanTarget = await createScanTarget();
    const carol = await server.token("carol");
    try {
      const page = await pageFor("ops", { admin: true, path: "/", viewport: { width: 390, height: 844 } });
      await page.getByRole("button", { name: "Capacity" }).click();
      const dash = page.getByTestId("capacity");
      await dash.waitFor({ timeout: 20_000 });
      await expect.poll(async () => Number(await dash.getAttribute("data-updates")), { timeout: 20_000 }).toBeGreaterThan(0);
      const before = Number(await dash.getAttribute("data-updates"));
      expect(await page.getByTestId("tile-scans").innerText()).toMatch(/0 running/);

      // Another user's scan blocks on a locked table: the dashboard must show it running.
      await target.lock();
      const session = await request(server.url, OpenSessionDocument, { input: { name: "carol" } }, carol);
      const conn = await request(
        server.url,
        SaveDatabaseConnectionDocument,
        { input: { sessionId: session.data!.openSession.id, name: "t", engine: "POSTGRESQL", host: target.host, port: target.port, database: target.database, user: target.user, password: target.password } },
        carol,
      );
      const started = await request(
        server.url,
        StartDatabaseScanDocument,
        { input: { sessionId: session.data!.openSession.id, connectionId: conn.data!.saveDatabaseConnection.id } },
        carol,
      );
      expect(started.errors).toBeUndefined();
      await expect.poll(() => page.getByTestId("tile-scans").innerText(), { timeout: 20_000 }).toMatch(/1 running/);
      expect(Number(await dash.getAttribute("data-updates"))).toBeGreaterThan(before);
      expect(Number(await page.getByTestId("history-chart").getAttribute("data-points"))).toBeGreaterThan(1);
      await screenshot(page, "spa-admin-capacity-live-narrow");

      await request(server.url, CancelScanDocument, { id: started.data!.startDatabaseScan.id }, carol);
      await expect.poll(() => page.getByTestId("tile-scans").innerText(), { timeout: 20_000 }).toMatch(/0 running/);
      await page.setViewportSize({ width: 1280, height: 900 });
      await screenshot(page, "spa-admin-capacity");
    } finally {
      await target.drop();
    }
  }, 120_000);
});
