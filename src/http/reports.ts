import type express from "express";
import { authenticate, type ContextDeps } from "../graphql/context.js";
import { AppError, httpStatusFor, type ErrorCode } from "../shared/errors.js";
import { buildCsv, buildHtml, reportFileName, type ReportFinding, type ScanReport } from "../modules/reports/report.builder.js";

/**
 * `GET /scans/:id/report.csv` and `GET /scans/:id/report.html`: a scan's findings report,
 * authorised like the API (`Authorization: Bearer <token>`); another user's scan, or an
 * unknown id, is 404 alike. Errors answer `{ errors: [{ message, extensions: { code } }] }`.
 */
export interface ReportRouteOptions {
  /**
   * Findings listed at most; the rest are counted in the summary but not listed.
   * @default 10000
   */
  maxFindings?: number;
}

const PAGE = 500;

/** Reads the scan (owner-scoped) and up to `max` findings, a page at a time. */
export async function gatherReport(deps: ContextDeps, ownerId: string, scanId: string, max: number): Promise<ScanReport> {
  const scans = deps.services.scans;
  const scan = await scans.get(ownerId, scanId);
  if (!scan) throw new AppError("NOT_FOUND", "Scan not found");
  const findings: ReportFinding[] = [];
  let after: string | null = null;
  let truncated = false;
  for (;;) {
    const page = await scans.findings(ownerId, scan.id, { first: Math.min(PAGE, max - findings.length), after });
    findings.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) break;
    if (findings.length >= max) {
      truncated = true;
      break;
    }
    after = page.pageInfo.endCursor;
  }
  const named = scan as typeof scan & { name?: string | null };
  return {
    scan: {
      id: scan.id,
      name: named.name ?? null,
      kind: scan.kind,
      status: scan.status,
      riskLevel: scan.riskLevel,
      findingsCount: scan.findingsCount,
      createdAt: scan.createdAt,
      startedAt: scan.startedAt,
      finishedAt: scan.finishedAt,
      errorMessage: scan.errorMessage,
    },
    findings,
    truncated,
    generatedAt: new Date(),
  };
}

function sendError(res: express.Response, code: ErrorCode, message: string): void {
  res.status(httpStatusFor(code)).type("application/json").send(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

export function mountReports(app: express.Express, deps: ContextDeps, options: ReportRouteOptions = {}): void {
  const max = options.maxFindings ?? 10_000;
  const handler =
    (format: "csv" | "html"): express.RequestHandler =>
    async (req, res) => {
      try {
        const authorization = req.headers.authorization;
        const user = await authenticate(deps, authorization);
        if (!user) {
          res.setHeader("WWW-Authenticate", "Bearer");
          sendError(res, "UNAUTHENTICATED", "Send the token as 'Authorization: Bearer <token>'");
          return;
        }
        const report = await gatherReport(deps, user.id, String(req.params.id), max);
        res.setHeader("Cache-Control", "no-store");
        res.setHeader("X-Content-Type-Options", "nosniff");
        res.setHeader("Referrer-Policy", "no-referrer");
        if (format === "csv") {
          res.setHeader("Content-Disposition", `attachment; filename="${reportFileName(report.scan, "csv")}"`);
          // A BOM so spreadsheet programs read UTF-8 (masked values and file names may hold any script).
          res.type("text/csv; charset=utf-8").send(`\uFEFF${buildCsv(report)}`);
        } else {
          // The page is static: no scripts, nothing from elsewhere.
          res.setHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
          res.setHeader("Content-Disposition", `inline; filename="${reportFileName(report.scan, "html")}"`);
          res.type("text/html; charset=utf-8").send(buildHtml(report));
        }
      } catch (err) {
        if (err instanceof AppError) {
          sendError(res, err.code, err.message);
          return;
        }
        deps.log.error({ err, scanId: req.params.id }, "report failed");
        sendError(res, "INTERNAL_SERVER_ERROR", "Internal server error");
      }
    };
  app.get("/scans/:id/report.csv", handler("csv"));
  app.get("/scans/:id/report.html", handler("html"));
}
