import { describe, expect, it } from "vitest";
import {
  buildCsv,
  buildHtml,
  countFindings,
  csvField,
  durationSeconds,
  escapeHtml,
  formatDuration,
  locationText,
  reportFileName,
  scanTitle,
  type ReportFinding,
  type ScanReport,
} from "../../../src/modules/reports/report.builder.js";

const finding = (over: Partial<ReportFinding> = {}): ReportFinding => ({
  type: "EMAIL",
  severity: "MEDIUM",
  confidence: 0.9,
  maskedValue: "j***@example.nl",
  occurrences: 2,
  matchRatio: null,
  location: { source: "dossier.txt", line: 3, table: null, column: null },
  ...over,
});

const report = (over: Partial<ScanReport> = {}): ScanReport => ({
  scan: {
    id: "7d1e0f7e-0000-4000-8000-000000000001",
    name: "customers.txt",
    kind: "DOCUMENT",
    status: "SUCCEEDED",
    riskLevel: "CRITICAL",
    findingsCount: 3,
    createdAt: new Date("2026-12-01T09:00:00Z"),
    startedAt: new Date("2026-12-01T09:00:01Z"),
    finishedAt: new Date("2026-12-01T09:03:06Z"),
  },
  findings: [
    finding(),
    finding({ type: "BSN", severity: "CRITICAL", maskedValue: "*****6782", location: { source: "dossier.txt", line: 4, table: null, column: null } }),
    finding({ type: "IBAN", severity: "HIGH", maskedValue: "NL91**********4300", matchRatio: 0.25, location: { source: "public.customers", line: null, table: "public.customers", column: "iban" } }),
  ],
  truncated: false,
  generatedAt: new Date("2026-12-01T10:00:00Z"),
  ...over,
});

describe("csvField", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["=SUM(A1)", "'=SUM(A1)"],
    ["+31 6 1234", "'+31 6 1234"],
    ["-1", "'-1"],
    ["@cmd", "'@cmd"],
    ["=a,b", `"'=a,b"`],
    [null, ""],
    [undefined, ""],
    [42, "42"],
    [-1, "-1"],
  ])("%j -> %s", (value, expected) => {
    expect(csvField(value as string | number | null | undefined)).toBe(expected);
  });
});

describe("small helpers", () => {
  it.each([
    [{ source: "a.txt", line: 12, table: null, column: null }, "a.txt:12"],
    [{ source: "a.txt", line: null, table: null, column: null }, "a.txt"],
    [{ source: "public.t", line: null, table: "public.t", column: "email" }, "public.t.email"],
    [{ source: "public.t", line: null, table: "public.t", column: null }, "public.t"],
  ])("locationText(%j) = %s", (loc, expected) => {
    expect(locationText(loc)).toBe(expected);
  });

  it.each([
    [null, ""],
    [0, "0 s"],
    [44.6, "45 s"],
    [60, "1 min"],
    [185, "3 min 5 s"],
    [3600, "1 h"],
    [7440, "2 h 4 min"],
  ])("formatDuration(%j) = %j", (s, expected) => {
    expect(formatDuration(s)).toBe(expected);
  });

  it("duration runs from start (else creation) to finish; null while running", () => {
    const createdAt = new Date(0);
    expect(durationSeconds({ createdAt, startedAt: new Date(2_000), finishedAt: new Date(5_000) })).toBe(3);
    expect(durationSeconds({ createdAt, startedAt: null, finishedAt: new Date(5_000) })).toBe(5);
    expect(durationSeconds({ createdAt, startedAt: new Date(2_000), finishedAt: null })).toBeNull();
  });

  it.each([
    [{ name: "customers.txt", kind: "DOCUMENT" }, "customers.txt"],
    [{ name: "  ", kind: "DATABASE" }, "Database scan"],
    [{ name: null, kind: "CODE" }, "Code scan"],
  ])("scanTitle(%j) = %s", (scan, expected) => {
    expect(scanTitle(scan)).toBe(expected);
  });

  it("escapes HTML", () => {
    expect(escapeHtml(`<script>"x" & 'y'</script>`)).toBe("&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;");
  });

  it("file names keep safe characters only", () => {
    const createdAt = new Date("2026-12-01T09:00:00Z");
    expect(reportFileName({ name: "Local CRM", kind: "DATABASE", createdAt }, "csv")).toBe("findings-Local-CRM-2026-12-01.csv");
    expect(reportFileName({ name: '../"evil"\r\n.txt', kind: "DOCUMENT", createdAt }, "html")).toBe("findings-evil-.txt-2026-12-01.html");
    expect(reportFileName({ name: null, kind: "CODE", createdAt }, "csv")).toBe("findings-Code-scan-2026-12-01.csv");
  });
});

describe("countFindings", () => {
  it("counts per severity in fixed order (zeros kept) and per type, most first", () => {
    const c = countFindings([finding(), finding(), finding({ type: "BSN", severity: "CRITICAL" }), finding({ type: "IBAN", severity: "HIGH" })]);
    expect(c.bySeverity).toEqual([
      { severity: "CRITICAL", count: 1 },
      { severity: "HIGH", count: 1 },
      { severity: "MEDIUM", count: 2 },
      { severity: "LOW", count: 0 },
    ]);
    expect(c.byType).toEqual([
      { type: "EMAIL", count: 2 },
      { type: "BSN", count: 1 },
      { type: "IBAN", count: 1 },
    ]);
  });
});

describe("buildCsv", () => {
  it("writes a header and one row per finding, CRLF, masked values only", () => {
    const csv = buildCsv(report());
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe("scan_id,scan_name,type,severity,masked_value,location,source,line,table,column,confidence,occurrences,match_ratio");
    expect(lines).toHaveLength(5); // header, 3 rows, trailing empty
    expect(lines[4]).toBe("");
    expect(lines[1]).toBe("7d1e0f7e-0000-4000-8000-000000000001,customers.txt,EMAIL,MEDIUM,j***@example.nl,dossier.txt:3,dossier.txt,3,,,0.90,2,");
    expect(lines[3]).toBe("7d1e0f7e-0000-4000-8000-000000000001,customers.txt,IBAN,HIGH,NL91**********4300,public.customers.iban,,,public.customers,iban,0.90,2,0.250");
  });

  it("quotes names with commas and neutralises formulas", () => {
    const base = report();
    const csv = buildCsv({ ...base, scan: { ...base.scan, name: "=HYPERLINK(\"x\"), a" }, findings: [finding({ location: { source: "@evil.txt", line: 1, table: null, column: null } })] });
    const row = csv.split("\r\n")[1]!;
    expect(row).toContain(`"'=HYPERLINK(""x""), a"`);
    expect(row).toContain(",'@evil.txt:1,'@evil.txt,");
  });

  it("has only the header when there are no findings", () => {
    expect(buildCsv(report({ findings: [] })).split("\r\n").filter(Boolean)).toHaveLength(1);
  });
});

describe("buildHtml", () => {
  it("holds the name, times, risk, counts and each masked finding with its location", () => {
    const html = buildHtml(report());
    expect(html).toContain("<title>Findings report: customers.txt</title>");
    expect(html).toContain("2026-12-01 09:00:01 UTC");
    expect(html).toContain("took 3 min 5 s");
    expect(html).toMatch(/Risk level<\/dt><dd class="sev sev-CRITICAL">CRITICAL/);
    expect(html).toMatch(/<td class="sev sev-MEDIUM">MEDIUM<\/td><td class="num">1<\/td>/);
    expect(html).toMatch(/<td>E-mail address<\/td><td class="num">1<\/td>/);
    expect(html).toContain("<code>*****6782</code>");
    expect(html).toContain("public.customers.iban");
    expect(html).toContain("dossier.txt:4");
    expect(html).toContain("@media print");
    expect(html).not.toMatch(/<script|src=|href=/);
  });

  it("escapes every value that comes from data", () => {
    const base = report();
    const html = buildHtml({
      ...base,
      scan: { ...base.scan, name: "<img src=x onerror=alert(1)>" },
      findings: [finding({ maskedValue: "<b>x</b>", location: { source: "<script>.txt", line: 1, table: null, column: null } })],
    });
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>x</b>");
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  it("says when the list was cut, and when there is nothing", () => {
    expect(buildHtml(report({ truncated: true }))).toContain("Only the first 3 findings are listed");
    expect(buildHtml(report({ findings: [] }))).toContain("<p>No findings.</p>");
  });
});
