/**
 * A scan's findings report, built by pure functions (STYLE.md: pure builders beside stateful
 * services): CSV for spreadsheets and tools, and a self-contained HTML page that prints well
 * to PDF. Both hold only masked values; the route (src/http/reports.ts) gathers the data.
 */

export interface ReportFinding {
  type: string;
  severity: string;
  confidence: number;
  maskedValue: string;
  occurrences: number;
  matchRatio: number | null;
  location: { source: string; line: number | null; table: string | null; column: string | null };
}

export interface ReportScan {
  id: string;
  /** The scan's own name (file names or connection name); null for scans from before names. */
  name: string | null;
  kind: string;
  status: string;
  riskLevel: string | null;
  findingsCount: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  errorMessage?: string | null;
}

export interface ScanReport {
  scan: ReportScan;
  findings: readonly ReportFinding[];
  /** True when the findings were cut at the report's row limit. */
  truncated: boolean;
  generatedAt: Date;
}

export const SEVERITY_ORDER = ["CRITICAL", "HIGH", "MEDIUM", "LOW"] as const;

const KIND_LABEL: Record<string, string> = { DOCUMENT: "Documents", CODE: "Code", DATABASE: "Database" };
const TYPE_LABEL: Record<string, string> = {
  EMAIL: "E-mail address",
  PHONE_NUMBER: "Phone number",
  IBAN: "IBAN",
  CREDIT_CARD: "Card number",
  BSN: "BSN",
  IP_ADDRESS: "IP address",
  AWS_ACCESS_KEY: "AWS access key",
  PRIVATE_KEY: "Private key",
  JWT: "JWT",
  API_KEY: "API key",
  PASSWORD: "Password",
};

export const typeLabel = (type: string): string => TYPE_LABEL[type] ?? type;

/** The name people see: the stored name, else "<Kind> scan". */
export function scanTitle(scan: Pick<ReportScan, "name" | "kind">): string {
  return scan.name?.trim() || `${KIND_LABEL[scan.kind] ?? scan.kind} scan`;
}

/** Where a finding is: "file.txt:12", "public.customers.email", or the source alone. */
export function locationText(l: ReportFinding["location"]): string {
  if (l.table) return `${l.table}${l.column ? `.${l.column}` : ""}`;
  return l.line != null ? `${l.source}:${l.line}` : l.source;
}

/** Seconds between start (or creation) and finish; null while running. */
export function durationSeconds(scan: Pick<ReportScan, "createdAt" | "startedAt" | "finishedAt">): number | null {
  if (!scan.finishedAt) return null;
  const from = scan.startedAt ?? scan.createdAt;
  return Math.max(0, (scan.finishedAt.getTime() - from.getTime()) / 1000);
}

/** "45 s", "3 min 5 s", "2 h 4 min". */
export function formatDuration(seconds: number | null): string {
  if (seconds == null) return "";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ""}`;
}

export interface Counts {
  bySeverity: Array<{ severity: string; count: number }>;
  byType: Array<{ type: string; count: number }>;
}

/** Findings per severity (fixed order, zeros kept) and per type (most first, then by name). */
export function countFindings(findings: readonly ReportFinding[]): Counts {
  const sev = new Map<string, number>(SEVERITY_ORDER.map((s) => [s, 0]));
  const types = new Map<string, number>();
  for (const f of findings) {
    sev.set(f.severity, (sev.get(f.severity) ?? 0) + 1);
    types.set(f.type, (types.get(f.type) ?? 0) + 1);
  }
  return {
    bySeverity: [...sev].map(([severity, count]) => ({ severity, count })),
    byType: [...types].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
  };
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A value that a
 * spreadsheet would run as a formula (leading = + - @, tab or CR) gets a leading apostrophe:
 * file and table names come from the user's data.
 */
export function csvField(value: string | number | null | undefined): string {
  if (value == null) return "";
  let s = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_COLUMNS = ["scan_id", "scan_name", "type", "severity", "masked_value", "location", "source", "line", "table", "column", "confidence", "occurrences", "match_ratio"] as const;

/** The findings as CSV, one row per finding, header first, CRLF line ends (RFC 4180). */
export function buildCsv(report: ScanReport): string {
  const { scan } = report;
  const title = scanTitle(scan);
  const lines = [CSV_COLUMNS.join(",")];
  for (const f of report.findings) {
    lines.push(
      [
        scan.id,
        title,
        f.type,
        f.severity,
        f.maskedValue,
        locationText(f.location),
        f.location.table ? "" : f.location.source,
        f.location.line,
        f.location.table,
        f.location.column,
        f.confidence.toFixed(2),
        f.occurrences,
        f.matchRatio == null ? null : f.matchRatio.toFixed(3),
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const STYLE = `
  body { font: 11pt/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
  .meta { color: #57606a; margin: 0 0 1rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
  dt { font-weight: 600; } dd { margin: 0; }
  table { border-collapse: collapse; width: 100%; font-size: 10pt; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }
  th { background: #f6f8fa; } td.num, th.num { text-align: right; }
  code { font-family: ui-monospace, Menlo, monospace; word-break: break-all; }
  .sev { font-weight: 600; } .sev-CRITICAL { color: #82071e; } .sev-HIGH { color: #953800; } .sev-MEDIUM { color: #7d4e00; }
  .counts { display: flex; flex-wrap: wrap; gap: 2rem; } .counts table { width: auto; min-width: 14rem; }
  .note { color: #57606a; font-size: 9pt; }
  @media print {
    body { margin: 0; max-width: none; }
    thead { display: table-header-group; } tr { break-inside: avoid; }
    h2 { break-after: avoid; }
  }
  @page { margin: 15mm; }
`;

const iso = (d: Date | null) => (d ? d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "");

/** A self-contained page (no scripts, no external resources) that prints well to PDF. */
export function buildHtml(report: ScanReport): string {
  const { scan } = report;
  const title = scanTitle(scan);
  const counts = countFindings(report.findings);
  const e = escapeHtml;
  const rows = report.findings
    .map(
      (f) =>
        `<tr><td>${e(typeLabel(f.type))}</td><td class="sev sev-${e(f.severity)}">${e(f.severity)}</td><td><code>${e(f.maskedValue)}</code></td>` +
        `<td>${e(locationText(f.location))}</td><td class="num">${Math.round(f.confidence * 100)}%</td><td class="num">${f.occurrences}</td></tr>`,
    )
    .join("\n");
  const duration = formatDuration(durationSeconds(scan));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(`Findings report: ${title}`)}</title>
<style>${STYLE}</style></head>
<body>
<h1>Findings report: ${e(title)}</h1>
<p class="meta">DataGuardian · generated ${e(iso(report.generatedAt))}</p>
<dl>
<dt>Scan</dt><dd>${e(title)} (${e(KIND_LABEL[scan.kind] ?? scan.kind)})</dd>
<dt>Status</dt><dd>${e(scan.status)}${scan.errorMessage ? ` (${e(scan.errorMessage)})` : ""}</dd>
<dt>Started</dt><dd>${e(iso(scan.startedAt ?? scan.createdAt))}</dd>
<dt>Finished</dt><dd>${e(iso(scan.finishedAt)) || "not yet"}${duration ? ` (took ${e(duration)})` : ""}</dd>
<dt>Risk level</dt><dd class="sev sev-${e(scan.riskLevel ?? "NONE")}">${e(scan.riskLevel ?? "none")}</dd>
<dt>Findings</dt><dd>${scan.findingsCount}</dd>
<dt>Scan id</dt><dd><code>${e(scan.id)}</code></dd>
</dl>
<h2>Counts</h2>
<div class="counts">
<table><caption class="note">By severity</caption><thead><tr><th>Severity</th><th class="num">Findings</th></tr></thead><tbody>
${counts.bySeverity.map((c) => `<tr><td class="sev sev-${e(c.severity)}">${e(c.severity)}</td><td class="num">${c.count}</td></tr>`).join("\n")}
</tbody></table>
<table><caption class="note">By type</caption><thead><tr><th>Type</th><th class="num">Findings</th></tr></thead><tbody>
${counts.byType.length ? counts.byType.map((c) => `<tr><td>${e(typeLabel(c.type))}</td><td class="num">${c.count}</td></tr>`).join("\n") : `<tr><td colspan="2">none</td></tr>`}
</tbody></table>
</div>
<h2>Findings</h2>
${
  report.findings.length
    ? `<table><thead><tr><th>Type</th><th>Severity</th><th>Masked value</th><th>Location</th><th class="num">Confidence</th><th class="num">Seen</th></tr></thead><tbody>
${rows}
</tbody></table>`
    : "<p>No findings.</p>"
}
${report.truncated ? `<p class="note">Only the first ${report.findings.length} findings are listed; the CSV export has the same limit.</p>` : ""}
<p class="note">Values are masked; DataGuardian never stores raw personal data.</p>
</body></html>
`;
}

/** A file name for downloads: the scan's title in safe characters, and the date. */
export function reportFileName(scan: Pick<ReportScan, "name" | "kind" | "createdAt">, ext: "csv" | "html"): string {
  const base = scanTitle(scan)
    .normalize("NFKD")
    .replace(/[^\w.-]+/g, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, 60) || "scan";
  return `findings-${base}-${scan.createdAt.toISOString().slice(0, 10)}.${ext}`;
}
