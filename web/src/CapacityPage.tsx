import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useQuery, useSubscription } from "urql";
import { describeError } from "./client";
import { CapacityDocument, CapacityUpdatesDocument, type CapacityFieldsFragment } from "./generated/graphql";

/** The API keeps 7 days of history; `history(minutes)` answers at most ~120 points. */
const RANGES = [
  { minutes: 15, label: "15 min" },
  { minutes: 60, label: "1 hour" },
  { minutes: 360, label: "6 hours" },
  { minutes: 1440, label: "24 hours" },
  { minutes: 10080, label: "7 days" },
] as const;

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
  const [minutes, setMinutes] = useState<number>(15);
  const [initial, refetch] = useQuery({ query: CapacityDocument, variables: { minutes } });
  const [report, setReport] = useState<CapacityFieldsFragment | null>(null);
  const [points, setPoints] = useState<Point[]>([]);
  const [updates, setUpdates] = useState(0);
  const minutesRef = useRef(minutes);
  minutesRef.current = minutes;

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
      const cutoff = Date.parse(r.at) - minutesRef.current * 60_000;
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
  // Newest first, by when each was raised or cleared; cleared ones stay, in grey.
  const alerts = [...report.alerts].sort((a, b) => Date.parse(b.clearedAt ?? b.at) - Date.parse(a.clearedAt ?? a.at));
  const rangeLabel = RANGES.find((r) => r.minutes === minutes)?.label ?? `${minutes} min`;
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
        <div className="row spread">
          <h2 id="chart-title">Last {rangeLabel}</h2>
          <div className="row range">
            <label htmlFor="cap-range">Range</label>
            <select id="cap-range" value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
              {RANGES.map((r) => (
                <option key={r.minutes} value={r.minutes}>
                  {r.label}
                </option>
              ))}
            </select>
          </div>
        </div>
        <HistoryChart points={points} maxScans={report.scans.maxConcurrent} minutes={minutes} />
      </section>
      <div className="two">
        <section className="card" aria-labelledby="alerts-title">
          <h2 id="alerts-title">Alerts</h2>
          {alerts.length === 0 ? <p className="hint">No alerts.</p> : <p className="hint">Newest first.</p>}
          <ul className="plain alerts" data-testid="alerts">
            {alerts.map((a, i) => (
              <li key={`${a.metric}-${a.at}-${i}`} className={a.clearedAt ? "is-cleared" : ""} data-testid="alert" data-cleared={a.clearedAt ? "true" : "false"} data-at={a.clearedAt ?? a.at}>
                <span className={a.clearedAt ? "badge cleared" : `badge level-${a.level.toLowerCase()}`}>{a.clearedAt ? "cleared" : a.level}</span>
                <span>{a.message}</span>
                <span className="hint">
                  {a.clearedAt ? `cleared ${new Date(a.clearedAt).toLocaleTimeString()}` : `since ${new Date(a.at).toLocaleTimeString()}`}
                </span>
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

/** Tick positions for a time axis: round steps, at least ~80 px apart. */
function timeTicks(t0: number, t1: number, width: number): number[] {
  const steps = [60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000];
  const want = Math.max(2, Math.floor(width / 80));
  const step = steps.find((s) => (t1 - t0) / s <= want) ?? 86_400_000;
  const out: number[] = [];
  const offset = new Date(t0).getTimezoneOffset() * 60_000;
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) out.push(t);
  return out;
}

function tickLabel(t: number, spanMs: number): string {
  const d = new Date(t);
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return spanMs > 86_400_000 ? `${d.toLocaleDateString([], { weekday: "short" })} ${hm}` : hm;
}

/**
 * An inline SVG line chart drawn at the width it has (so text stays readable on a phone):
 * CPU and memory (0–100%) and running scans (against the limit), with a time axis.
 */
function HistoryChart(props: { points: Point[]; maxScans: number; minutes: number }) {
  const box = useRef<HTMLElement>(null);
  const [W, setW] = useState(600);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setW(Math.max(260, Math.round(el.clientWidth)));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const H = W < 480 ? 200 : 220;
  const left = 34;
  const right = 10;
  const top = 10;
  const bottom = 26;
  const pts = props.points;
  if (pts.length === 0) {
    return (
      <figure className="chart" ref={box}>
        <p className="hint">No samples in this range yet.</p>
      </figure>
    );
  }
  const last = pts[pts.length - 1]!;
  const t1 = Date.parse(last.at);
  const t0 = Math.min(Date.parse(pts[0]!.at), t1 - props.minutes * 60_000);
  const x = (t: number) => left + ((t - t0) / Math.max(1, t1 - t0)) * (W - left - right);
  const y = (v: number) => H - bottom - Math.max(0, Math.min(1, v)) * (H - top - bottom);
  const line = (pick: (p: Point) => number) => pts.map((p) => `${x(Date.parse(p.at)).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(" ");
  const maxScans = Math.max(1, props.maxScans);
  const ticks = timeTicks(t0, t1, W - left - right);
  const summary = `CPU ${pct(last.cpu)}, memory ${pct(last.memoryUsed)}, ${last.runningScans} scans running, ${pts.length} samples since ${new Date(pts[0]!.at).toLocaleTimeString()}.`;
  return (
    <figure className="chart" ref={box}>
      <svg
        width={W}
        height={H}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`History chart. Latest: ${summary}`}
        data-testid="history-chart"
        data-points={pts.length}
        data-ticks={ticks.length}
      >
        {[0, 0.5, 1].map((g) => (
          <g key={g}>
            <line x1={left} x2={W - right} y1={y(g)} y2={y(g)} className="grid" />
            <text x={left - 4} y={y(g) + 4} className="axis" textAnchor="end">
              {g * 100}%
            </text>
          </g>
        ))}
        <line x1={left} x2={W - right} y1={H - bottom} y2={H - bottom} className="xaxis" />
        {ticks.map((t) => (
          <g key={t} data-testid="time-tick">
            <line x1={x(t)} x2={x(t)} y1={H - bottom} y2={H - bottom + 4} className="xaxis" />
            <text x={x(t)} y={H - 8} className="tick" textAnchor="middle">
              {tickLabel(t, t1 - t0)}
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
