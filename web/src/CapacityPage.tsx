import { useCallback, useEffect, useState } from "react";
import { useQuery, useSubscription } from "urql";
import { describeError } from "./client";
import { CapacityDocument, CapacityUpdatesDocument, type CapacityFieldsFragment } from "./generated/graphql";

const MINUTES = 15;

interface Point {
  at: string;
  cpu: number;
  memoryUsed: number;
  runningScans: number;
  queuedScans: number;
  poolInUse: number;
  activeUsers: number;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** Admins: the latest report as tiles, alerts and recommendations, and a live chart. */
export function CapacityPage(props: { epoch: number }) {
  const [initial, refetch] = useQuery({ query: CapacityDocument, variables: { minutes: MINUTES } });
  const [report, setReport] = useState<CapacityFieldsFragment | null>(null);
  const [points, setPoints] = useState<Point[]>([]);
  const [updates, setUpdates] = useState(0);

  useEffect(() => {
    if (props.epoch > 0) refetch({ requestPolicy: "network-only" });
  }, [props.epoch, refetch]);
  useEffect(() => {
    const c = initial.data?.capacity;
    if (!c) return;
    setReport(c);
    setPoints(c.history.map((h) => ({ ...h })));
  }, [initial.data]);

  const onUpdate = useCallback((_prev: unknown, data: { capacityUpdates: CapacityFieldsFragment }) => {
    const r = data.capacityUpdates;
    setReport(r);
    setUpdates((n) => n + 1);
    setPoints((prev) => {
      const cutoff = Date.parse(r.at) - MINUTES * 60_000;
      const next = prev.filter((p) => Date.parse(p.at) >= cutoff && p.at !== r.at);
      next.push({
        at: r.at,
        cpu: r.cpu,
        memoryUsed: r.memoryUsed,
        runningScans: r.scans.running,
        queuedScans: r.scans.queued,
        poolInUse: r.database.inUse,
        activeUsers: r.activeUsers,
      });
      return next;
    });
    return data;
  }, []);
  const [sub] = useSubscription({ query: CapacityUpdatesDocument }, onUpdate);

  const error = describeError(initial.error ?? sub.error);
  if (!report) {
    return (
      <section className="card" aria-labelledby="cap-title">
        <h1 id="cap-title">Capacity</h1>
        {error ? (
          <p role="alert" className="error">
            {error}
          </p>
        ) : (
          <p>Loading…</p>
        )}
      </section>
    );
  }
  const active = report.alerts.filter((a) => !a.clearedAt);
  return (
    <>
      <section className="card" aria-labelledby="cap-title" data-testid="capacity" data-updates={updates} data-at={report.at}>
        <div className="row spread">
          <h1 id="cap-title">Capacity</h1>
          <span className={`badge level-${report.level.toLowerCase()}`} data-testid="capacity-level">
            {report.level}
          </span>
        </div>
        <p className="hint" aria-live="off">
          Last sample {new Date(report.at).toLocaleTimeString()} · {updates} live update{updates === 1 ? "" : "s"} · {report.connectedClients} connected clients
        </p>
        {error ? (
          <p role="alert" className="error">
            {error}
          </p>
        ) : null}
        <ul className="tiles" aria-label="Current figures">
          <Tile label="Memory" value={pct(report.memoryUsed)} fraction={report.memoryUsed} testid="tile-memory" />
          <Tile label="CPU" value={pct(report.cpu)} fraction={report.cpu} testid="tile-cpu" />
          <Tile label="Active users" value={String(report.activeUsers)} testid="tile-users" />
          <Tile
            label="Scans"
            value={`${report.scans.running} running`}
            detail={`${report.scans.queued} queued · limit ${report.scans.maxConcurrent} (${report.scans.maxPerUser} per user)`}
            fraction={report.scans.maxConcurrent ? report.scans.running / report.scans.maxConcurrent : 0}
            testid="tile-scans"
          />
          <Tile
            label="Database pool"
            value={`${report.database.inUse} / ${report.database.size} in use`}
            detail={`${report.database.idle} idle · ${report.database.waiting} waiting`}
            fraction={report.database.size ? report.database.inUse / report.database.size : 0}
            testid="tile-pool"
          />
        </ul>
      </section>
      <section className="card" aria-labelledby="chart-title">
        <h2 id="chart-title">Last {MINUTES} minutes</h2>
        <HistoryChart points={points} maxScans={report.scans.maxConcurrent} />
      </section>
      <div className="two">
        <section className="card" aria-labelledby="alerts-title">
          <h2 id="alerts-title">Alerts</h2>
          {report.alerts.length === 0 ? <p className="hint">No alerts.</p> : null}
          <ul className="plain">
            {report.alerts.map((a, i) => (
              <li key={`${a.metric}-${a.at}-${i}`}>
                <span className={`badge level-${a.level.toLowerCase()}`}>{a.clearedAt ? "cleared" : a.level}</span> {a.message}{" "}
                <span className="hint">({new Date(a.at).toLocaleTimeString()})</span>
              </li>
            ))}
          </ul>
          {active.length > 0 ? <p className="visually-hidden">{active.length} active alerts.</p> : null}
        </section>
        <section className="card" aria-labelledby="recs-title">
          <h2 id="recs-title">Recommendations</h2>
          {report.recommendations.length === 0 ? <p className="hint">Nothing to recommend.</p> : null}
          <ul className="plain">
            {report.recommendations.map((r, i) => (
              <li key={`${r.metric}-${i}`}>
                <span className={`badge sev-${r.severity.toLowerCase()}`}>{r.severity}</span> {r.message}
              </li>
            ))}
          </ul>
        </section>
      </div>
    </>
  );
}

function Tile(props: { label: string; value: string; detail?: string; fraction?: number; testid: string }) {
  const f = props.fraction;
  const tone = f == null ? "" : f >= 0.9 ? " critical" : f >= 0.75 ? " warning" : "";
  return (
    <li className={`tile${tone}`} data-testid={props.testid}>
      <span className="tile-label">{props.label}</span>
      <span className="tile-value">{props.value}</span>
      {props.detail ? <span className="tile-detail">{props.detail}</span> : null}
      {f != null ? (
        <span className="meter" aria-hidden="true">
          <span style={{ width: `${Math.min(100, Math.round(f * 100))}%` }} />
        </span>
      ) : null}
    </li>
  );
}

/** An inline SVG line chart: CPU and memory (0–100%) and running scans (against the limit). */
function HistoryChart(props: { points: Point[]; maxScans: number }) {
  const W = 600;
  const H = 180;
  const pad = 24;
  const pts = props.points;
  if (pts.length === 0) return <p className="hint">No samples yet.</p>;
  const t0 = Date.parse(pts[0]!.at);
  const t1 = Math.max(t0 + 1, Date.parse(pts[pts.length - 1]!.at));
  const x = (at: string) => pad + ((Date.parse(at) - t0) / (t1 - t0)) * (W - 2 * pad);
  const y = (v: number) => H - pad - Math.max(0, Math.min(1, v)) * (H - 2 * pad);
  const line = (pick: (p: Point) => number) => pts.map((p) => `${x(p.at).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(" ");
  const maxScans = Math.max(1, props.maxScans);
  const last = pts[pts.length - 1]!;
  const summary = `CPU ${pct(last.cpu)}, memory ${pct(last.memoryUsed)}, ${last.runningScans} scans running, ${pts.length} samples since ${new Date(pts[0]!.at).toLocaleTimeString()}.`;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`History chart. Latest: ${summary}`} data-testid="history-chart" data-points={pts.length}>
        {[0, 0.5, 1].map((g) => (
          <g key={g}>
            <line x1={pad} x2={W - pad} y1={y(g)} y2={y(g)} className="grid" />
            <text x={2} y={y(g) + 4} className="axis">
              {g * 100}
            </text>
          </g>
        ))}
        <polyline points={line((p) => p.cpu)} className="s-cpu" fill="none" />
        <polyline points={line((p) => p.memoryUsed)} className="s-mem" fill="none" />
        <polyline points={line((p) => p.runningScans / maxScans)} className="s-scans" fill="none" />
      </svg>
      <figcaption>
        <span className="key k-cpu">CPU %</span> <span className="key k-mem">Memory %</span> <span className="key k-scans">Running scans (of {maxScans})</span>
      </figcaption>
    </figure>
  );
}
