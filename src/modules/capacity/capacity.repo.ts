import type { PrismaClient } from "../../generated/prisma/client.js";
import type { Level } from "./capacity.levels.js";

/** One instance's figures as stored in CapacitySample. */
export interface SampleRow {
  cpu: number;
  processCpu: number;
  memoryUsed: number;
  rssBytes: number;
  eventLoopDelayMs: number;
  poolSize: number;
  poolInUse: number;
  poolIdle: number;
  poolWaiting: number;
  wsClients: number;
  subscriptions: number;
  runningScans: number;
  queuedScans: number;
  activeUsers: number;
}

export interface InstanceIdentity {
  id: string;
  kind: string;
  hostname: string;
  pid: number;
}

/** The level an instance judged for itself with a sample (see capacity.admission.ts). */
export interface SampleLevel {
  /** null in rows stored before instances stored their level */
  level: Level | null;
  criticalMetrics: string[];
}

export interface LiveInstanceRow extends InstanceIdentity {
  startedAt: Date;
  heartbeatAt: Date;
  /** the instance's latest sample; null when it has none yet */
  sample: (SampleRow & SampleLevel & { at: Date }) | null;
}

export interface KindDuration {
  kind: string;
  count: number;
  p50Seconds: number;
  p95Seconds: number;
}

/** System-wide scan figures (the same whichever instance reads them). */
export interface ScanFigures {
  running: number;
  queued: number;
  /** scans started in the last hour plus scans still queued (their wait so far) */
  waitCount: number;
  waitP50Seconds: number | null;
  waitP95Seconds: number | null;
  /** SUCCEEDED scans finished in the last hour, per kind */
  durations: KindDuration[];
  /** RUNNING scans, longest first (at most 100) */
  runningScans: Array<{ id: string; kind: string; runningSeconds: number }>;
}

export interface HistoryPoint {
  at: Date;
  cpu: number;
  memoryUsed: number;
  activeUsers: number;
  runningScans: number;
  queuedScans: number;
  poolInUse: number;
  instances: number;
}

/** Most points `history` answers; the bucket widens with the window to stay under it. */
export const HISTORY_MAX_POINTS = 120;

/**
 * The capacity monitor's SQL. Every query reads through an index: Scan by (status, createdAt),
 * CapacitySample by (at) or (instanceId, at), Instance by primary key or (heartbeatAt).
 * Times come from PostgreSQL's clock, so instances with skewed clocks still agree.
 */
export class CapacityRepo {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * One cheap statement for the scan figures. Scans finished in the last hour are found by
   * the (status, createdAt) index, bounded to those created in the last 25 h (a scan that ran
   * longer than a day is missed from the percentiles; the rules catch it while it runs).
   */
  async scanFigures(): Promise<ScanFigures> {
    const rows = await this.prisma.$queryRaw<
      Array<{
        running: number;
        queued: number;
        wait_n: number;
        wait_p50: number | null;
        wait_p95: number | null;
        durations: Array<{ kind: string; n: number; p50: number; p95: number }>;
        running_scans: Array<{ id: string; kind: string; s: number }>;
      }>
    >`
      WITH counts AS (
        SELECT count(*) FILTER (WHERE status = 'RUNNING')::int AS running,
               count(*) FILTER (WHERE status = 'QUEUED')::int AS queued
        FROM "Scan" WHERE status IN ('RUNNING', 'QUEUED')
      ), durations AS (
        SELECT kind::text AS kind, count(*)::int AS n,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "finishedAt" - "startedAt")::float8) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM "finishedAt" - "startedAt")::float8) AS p95
        FROM "Scan"
        WHERE status = 'SUCCEEDED' AND "createdAt" >= now() - interval '25 hours'
          AND "finishedAt" >= now() - interval '1 hour' AND "startedAt" IS NOT NULL
        GROUP BY kind
      ), waits AS (
        SELECT extract(epoch FROM "startedAt" - "createdAt")::float8 AS w FROM "Scan"
        WHERE status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED') AND "createdAt" >= now() - interval '25 hours'
          AND "startedAt" >= now() - interval '1 hour'
        UNION ALL
        SELECT extract(epoch FROM now() - "createdAt")::float8 FROM "Scan" WHERE status = 'QUEUED'
      ), running AS (
        SELECT id::text AS id, kind::text AS kind, extract(epoch FROM now() - "startedAt")::float8 AS s
        FROM "Scan" WHERE status = 'RUNNING' AND "startedAt" IS NOT NULL
        ORDER BY "startedAt" LIMIT 100
      )
      SELECT c.running, c.queued,
        (SELECT count(*)::int FROM waits) AS wait_n,
        (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY w) FROM waits) AS wait_p50,
        (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY w) FROM waits) AS wait_p95,
        coalesce((SELECT json_agg(d) FROM durations d), '[]'::json) AS durations,
        coalesce((SELECT json_agg(r) FROM running r), '[]'::json) AS running_scans
      FROM counts c`;
    const r = rows[0]!;
    return {
      running: r.running,
      queued: r.queued,
      waitCount: r.wait_n,
      waitP50Seconds: r.wait_p50,
      waitP95Seconds: r.wait_p95,
      durations: r.durations.map((d) => ({ kind: d.kind, count: d.n, p50Seconds: Number(d.p50), p95Seconds: Number(d.p95) })),
      runningScans: r.running_scans.map((s) => ({ id: s.id, kind: s.kind, runningSeconds: Number(s.s) })),
    };
  }

  /** Heartbeat (upsert of the Instance row) and the sample, in one round trip. Returns the database's time. */
  async record(instance: InstanceIdentity, s: SampleRow & SampleLevel): Promise<Date> {
    const rows = await this.prisma.$queryRaw<Array<{ at: Date }>>`
      WITH hb AS (
        INSERT INTO "Instance" (id, kind, hostname, pid, "startedAt", "heartbeatAt")
        VALUES (${instance.id}, ${instance.kind}, ${instance.hostname}, ${instance.pid}, now(), now())
        ON CONFLICT (id) DO UPDATE SET "heartbeatAt" = now()
        RETURNING id
      )
      INSERT INTO "CapacitySample" ("instanceId", at, cpu, "processCpu", "memoryUsed", "rssBytes", "eventLoopDelayMs",
        "poolSize", "poolInUse", "poolIdle", "poolWaiting", "wsClients", subscriptions, "runningScans", "queuedScans", "activeUsers",
        level, "criticalMetrics")
      SELECT hb.id, now(), ${s.cpu}, ${s.processCpu}, ${s.memoryUsed}, ${Math.round(s.rssBytes)}::bigint, ${s.eventLoopDelayMs},
        ${s.poolSize}::int, ${s.poolInUse}::int, ${s.poolIdle}::int, ${s.poolWaiting}::int, ${s.wsClients}::int, ${s.subscriptions}::int,
        ${s.runningScans}::int, ${s.queuedScans}::int, ${s.activeUsers}::int,
        ${s.level}::text, ${s.criticalMetrics}::text[]
      FROM hb
      RETURNING at`;
    return rows[0]!.at;
  }

  /**
   * An instance that shuts down leaves at once: its row goes (its samples stay for history), so
   * peers stop counting its level without waiting for its heartbeat to age.
   */
  async leave(instanceId: string): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM "Instance" WHERE id = ${instanceId}`;
  }

  /** Instances whose heartbeat is within `liveMs`, each with its latest sample (one index probe per instance). */
  async liveInstances(liveMs: number): Promise<LiveInstanceRow[]> {
    const rows = await this.prisma.$queryRaw<
      Array<
        InstanceIdentity & { startedAt: Date; heartbeatAt: Date; at: Date | null; level: string | null; criticalMetrics: string[] | null } & {
          [K in keyof SampleRow]: number | null;
        }
      >
    >`
      SELECT i.id, i.kind, i.hostname, i.pid, i."startedAt", i."heartbeatAt",
        s.at, s.cpu, s."processCpu", s."memoryUsed", s."rssBytes"::float8 AS "rssBytes", s."eventLoopDelayMs",
        s."poolSize", s."poolInUse", s."poolIdle", s."poolWaiting", s."wsClients", s.subscriptions,
        s."runningScans", s."queuedScans", s."activeUsers", s.level, s."criticalMetrics"
      FROM "Instance" i
      LEFT JOIN LATERAL (
        SELECT * FROM "CapacitySample" c WHERE c."instanceId" = i.id ORDER BY c.at DESC LIMIT 1
      ) s ON true
      WHERE i."heartbeatAt" >= now() - ${liveMs} * interval '1 millisecond'
      ORDER BY i."startedAt", i.id`;
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      hostname: r.hostname,
      pid: r.pid,
      startedAt: r.startedAt,
      heartbeatAt: r.heartbeatAt,
      sample:
        r.at === null
          ? null
          : {
              at: r.at,
              cpu: r.cpu!,
              processCpu: r.processCpu!,
              memoryUsed: r.memoryUsed!,
              rssBytes: Number(r.rssBytes),
              eventLoopDelayMs: r.eventLoopDelayMs!,
              poolSize: r.poolSize!,
              poolInUse: r.poolInUse!,
              poolIdle: r.poolIdle!,
              poolWaiting: r.poolWaiting!,
              wsClients: r.wsClients!,
              subscriptions: r.subscriptions!,
              runningScans: r.runningScans!,
              queuedScans: r.queuedScans!,
              activeUsers: r.activeUsers!,
              level: isLevel(r.level) ? r.level : null,
              criticalMetrics: r.criticalMetrics ?? [],
            },
    }));
  }

  /**
   * Chart points over the last `minutes`: samples bucketed with date_bin (at most
   * HISTORY_MAX_POINTS + 1 buckets, never narrower than `minBucketSeconds`), averaged per
   * instance within a bucket, then combined across instances: the highest CPU and memory
   * (the instance that limits), pool connections summed, and the system-wide figures (users,
   * scans) at their highest. Reads only the window, through the (at) index.
   */
  async history(minutes: number, minBucketSeconds: number): Promise<HistoryPoint[]> {
    const bucket = Math.max(minBucketSeconds, Math.ceil((minutes * 60) / HISTORY_MAX_POINTS));
    return this.prisma.$queryRaw<HistoryPoint[]>`
      WITH per_instance AS (
        SELECT date_bin(${bucket} * interval '1 second', at, timestamptz '2000-01-01 00:00:00+00') AS bucket, "instanceId",
          avg(cpu) AS cpu, avg("memoryUsed") AS mem, max("activeUsers") AS users,
          max("runningScans") AS running, max("queuedScans") AS queued, avg("poolInUse") AS pool
        FROM "CapacitySample"
        WHERE at >= now() - ${minutes} * interval '1 minute'
        GROUP BY 1, 2
      )
      SELECT bucket AS at, max(cpu)::float8 AS cpu, max(mem)::float8 AS "memoryUsed", max(users)::int AS "activeUsers",
        max(running)::int AS "runningScans", max(queued)::int AS "queuedScans", round(sum(pool))::int AS "poolInUse",
        count(*)::int AS instances
      FROM per_instance GROUP BY bucket ORDER BY bucket`;
  }

  /**
   * Deletes samples older than the retention in batches of `batchSize` (short transactions, no
   * long lock), at most `maxBatches` per call; and instances silent for that long.
   * @returns samples deleted
   */
  async prune(retentionMs: number, batchSize = 5_000, maxBatches = 20): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await this.prisma.$executeRaw`
        DELETE FROM "CapacitySample" WHERE id IN (
          SELECT id FROM "CapacitySample" WHERE at < now() - ${retentionMs} * interval '1 millisecond'
          ORDER BY at LIMIT ${batchSize}::int
        )`;
      deleted += n;
      if (n < batchSize) break;
    }
    await this.prisma.$executeRaw`DELETE FROM "Instance" WHERE "heartbeatAt" < now() - ${retentionMs} * interval '1 millisecond'`;
    return deleted;
  }
}

const isLevel = (v: string | null): v is Level => v === "OK" || v === "WARNING" || v === "CRITICAL";
