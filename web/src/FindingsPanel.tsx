import { useEffect, useRef, useState } from "react";
import { useQuery } from "urql";
import { describeError } from "./client";
import { FindingsDocument, type FindingType, type ScanRowFragment, type Severity } from "./generated/graphql";

const PAGE = 25;
const TYPES: FindingType[] = ["EMAIL", "PHONE_NUMBER", "IBAN", "CREDIT_CARD", "BSN", "IP_ADDRESS", "AWS_ACCESS_KEY", "PRIVATE_KEY", "JWT", "API_KEY", "PASSWORD"];
const SEVERITIES: Severity[] = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];
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

/**
 * One scan's findings, a page at a time (`findings(first, after, type, severity)`, keyset
 * cursors; a stack of cursors gives "previous"). The filters run on the server: pages and the
 * count follow them, and changing one starts again at the first page.
 */
export function FindingsPanel(props: { scan: ScanRowFragment; onClose: () => void }) {
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  const [type, setType] = useState<FindingType | "">("");
  const [severity, setSeverity] = useState<Severity | "">("");
  const [res, refetch] = useQuery({
    query: FindingsDocument,
    variables: { scanId: props.scan.id, first: PAGE, after, type: type ? [type] : null, severity: severity ? [severity] : null },
  });
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  // New findings land while a scan runs and when it ends: re-read the page.
  useEffect(() => {
    refetch({ requestPolicy: "network-only" });
  }, [props.scan.status, props.scan.findingsCount, refetch]);

  const conn = res.data?.scan?.findings;
  const rows = (conn?.edges ?? []).map((e) => e.node);
  const page = cursors.length;
  const pages = conn ? Math.max(1, Math.ceil(conn.totalCount / PAGE)) : 1;
  return (
    <section className="card" aria-labelledby="findings-title" data-testid="findings">
      <div className="row spread">
        <h2 id="findings-title" ref={headingRef} tabIndex={-1}>
          Findings: {props.scan.name ?? props.scan.kind.toLowerCase()} {conn ? `(${conn.totalCount})` : ""}
        </h2>
        <button type="button" className="secondary" onClick={props.onClose}>
          Close findings
        </button>
      </div>
      <div className="row" role="group" aria-label="Filter findings">
        <label htmlFor="f-type">Type</label>
        <select id="f-type" value={type} onChange={(e) => {
            setType(e.target.value as FindingType | "");
            setCursors([null]);
          }}>
          <option value="">All types</option>
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {TYPE_LABEL[t]}
            </option>
          ))}
        </select>
        <label htmlFor="f-sev">Severity</label>
        <select id="f-sev" value={severity} onChange={(e) => {
            setSeverity(e.target.value as Severity | "");
            setCursors([null]);
          }}>
          <option value="">All severities</option>
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {s.toLowerCase()}
            </option>
          ))}
        </select>
      </div>
      {res.error ? (
        <p role="alert" className="error">
          {describeError(res.error)}
        </p>
      ) : null}
      {res.fetching && !conn ? <p>Loading findings…</p> : null}
      {conn && rows.length === 0 ? <p className="hint">No findings{type || severity ? " match the filters" : ""}.</p> : null}
      {rows.length > 0 ? (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Findings table">
          <table>
            <caption className="visually-hidden">
              Findings, page {page} of {pages}. Values are masked; raw values are never stored.
            </caption>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Severity</th>
                <th scope="col">Masked value</th>
                <th scope="col">Location</th>
                <th scope="col">Confidence</th>
                <th scope="col">Seen</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((f) => (
                <tr key={f.id} data-testid="finding">
                  <td data-label="Type">{TYPE_LABEL[f.type] ?? f.type}</td>
                  <td data-label="Severity">
                    <span className={`badge sev-${f.severity.toLowerCase()}`}>{f.severity}</span>
                  </td>
                  <td data-label="Masked value">
                    <code data-testid="masked">{f.maskedValue}</code>
                  </td>
                  <td data-label="Location">
                    {f.location.table ? `${f.location.table}.${f.location.column ?? ""}` : f.location.source}
                    {f.location.line != null ? `:${f.location.line}` : ""}
                  </td>
                  <td data-label="Confidence">{Math.round(f.confidence * 100)}%</td>
                  <td data-label="Seen">{f.occurrences}×</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <nav className="row" aria-label="Findings pages">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Previous page
        </button>
        <span aria-live="polite">
          Page {page} of {pages}
        </span>
        <button type="button" disabled={!conn?.pageInfo.hasNextPage} onClick={() => conn?.pageInfo.endCursor && setCursors((c) => [...c, conn.pageInfo.endCursor!])}>
          Next page
        </button>
      </nav>
    </section>
  );
}
