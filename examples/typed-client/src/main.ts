/**
 * Opens a session, scans a document, prints live progress and the (masked) findings.
 *
 *   DG_URL=http://localhost:4000/graphql DG_TOKEN=... node dist/main.js [file ...]
 *
 * Without files it scans a small built-in sample with Dutch personal data.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { DataGuardianClient, GraphQLRequestError } from "./client.js";
import {
  CloseSessionDocument,
  OpenSessionDocument,
  ScanFindingsDocument,
  ScanProgressDocument,
  StartDocumentScanDocument,
  type ScanFindingsQuery,
} from "./generated/graphql.js";

const SAMPLE = [
  "Klantgegevens (voorbeeld)",
  "Naam: J. de Vries, e-mail: j.devries@example.nl, tel. 06-12345678",
  "BSN: 123456782",
  "Rekening: NL91ABNA0417164300",
].join("\n");

type Finding = NonNullable<ScanFindingsQuery["scan"]>["findings"]["edges"][number]["node"];

async function main(): Promise<void> {
  const url = process.env.DG_URL ?? "http://localhost:4000/graphql";
  const token = process.env.DG_TOKEN;
  if (!token) {
    console.error("Set DG_TOKEN (in development: npm run token -- --user you)");
    process.exit(2);
  }
  const files = process.argv.slice(2);
  const documents = files.length
    ? await Promise.all(files.map(async (f) => ({ name: basename(f), text: await readFile(f, "utf8") })))
    : [{ name: "sample.txt", text: SAMPLE }];

  const client = new DataGuardianClient(url, token);
  // Set once the session exists: every path out of the try below closes it (errors included),
  // unless DG_KEEP_SESSION=1 asks to keep it for a look in the web app.
  let sessionId: string | null = null;
  let closing: Promise<void> | null = null;
  const closeSession = (): Promise<void> =>
    (closing ??= (async () => {
      if (!sessionId || process.env.DG_KEEP_SESSION === "1") return;
      try {
        await client.request(CloseSessionDocument, { id: sessionId });
        console.log("session closed (its scans and findings are deleted)");
      } catch (err) {
        console.error(`could not close session ${sessionId}: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
      }
    })());
  // Ctrl-C or a stop signal mid-scan: close the session first, then leave.
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping`);
    void closeSession()
      .then(() => client.close())
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const { openSession } = await client.request(OpenSessionDocument, { name: "typed-client example" });
    sessionId = openSession.id;
    console.log(`session ${openSession.id} (expires ${openSession.expiresAt})`);

    const { startDocumentScan } = await client.request(StartDocumentScanDocument, { input: { sessionId: openSession.id, documents } });
    console.log(`scan ${startDocumentScan.id} ${startDocumentScan.status}`);

    let final = startDocumentScan.status;
    for await (const { scanProgress: p } of client.subscribe(ScanProgressDocument, { scanId: startDocumentScan.id })) {
      const items = p.itemsTotal != null ? ` ${p.itemsProcessed}/${p.itemsTotal}` : "";
      console.log(`progress ${Math.round(p.progress * 100)}% ${p.status}${items}${p.stage ? ` (${p.stage})` : ""}, ${p.findingsCount} findings`);
      final = p.status;
      if (p.error) console.log(`error ${p.error.code}: ${p.error.message}`);
    }
    if (final !== "SUCCEEDED") {
      console.error(`scan ended ${final}`);
      process.exitCode = 1;
      return;
    }

    const findings: Finding[] = [];
    let after: string | null = null;
    let risk: string | null = null;
    for (;;) {
      const page: ScanFindingsQuery = await client.request(ScanFindingsDocument, { scanId: startDocumentScan.id, first: 100, after });
      if (!page.scan) throw new Error("scan disappeared");
      risk = page.scan.riskLevel ?? null;
      findings.push(...page.scan.findings.edges.map((e) => e.node));
      if (!page.scan.findings.pageInfo.hasNextPage) break;
      after = page.scan.findings.pageInfo.endCursor ?? null;
    }
    console.log(`findings ${findings.length} (risk ${risk ?? "none"})`);
    for (const f of findings) {
      const where = `${f.location.source}${f.location.line != null ? `:${f.location.line}` : ""}`;
      console.log(`finding ${f.severity.padEnd(8)} ${f.type.padEnd(14)} ${f.maskedValue}  ${where}  (${Math.round(f.confidence * 100)}%, ${f.occurrences}x)`);
    }
  } catch (err) {
    if (err instanceof GraphQLRequestError) console.error(`GraphQL error ${err.code ?? "?"}: ${err.message}`);
    else console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  } finally {
    await closeSession();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await client.close();
  }
}

await main();
