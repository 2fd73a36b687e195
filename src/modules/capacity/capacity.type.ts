import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { ScanKind, Severity } from "../scans/scan.type.js";

export enum CapacityLevel {
  OK = "OK",
  WARNING = "WARNING",
  CRITICAL = "CRITICAL",
}
registerEnumType(CapacityLevel, { name: "CapacityLevel" });

@ObjectType({ description: "Database connection pool figures (summed across instances in a report)." })
export class PoolStats {
  @Field(() => Int) size!: number;
  @Field(() => Int) inUse!: number;
  @Field(() => Int) idle!: number;
  @Field(() => Int) waiting!: number;
}

@ObjectType({ description: "Scans that succeeded in the last hour, per kind." })
export class ScanKindDuration {
  @Field(() => ScanKind) kind!: ScanKind;
  @Field(() => Int) count!: number;
  @Field(() => Float) p50Seconds!: number;
  @Field(() => Float) p95Seconds!: number;
}

@ObjectType({ description: "System-wide scan figures." })
export class ScanCapacity {
  @Field(() => Int) running!: number;
  @Field(() => Int) queued!: number;
  @Field(() => Int) maxConcurrent!: number;
  @Field(() => Int) maxPerUser!: number;
  @Field(() => Int) maxQueued!: number;
  @Field(() => Float, { nullable: true, description: "Median queue wait of scans started in the last hour or still queued" })
  queueWaitP50Seconds!: number | null;
  @Field(() => Float, { nullable: true }) queueWaitP95Seconds!: number | null;
  @Field(() => [ScanKindDuration]) durations!: ScanKindDuration[];
  @Field(() => String, {
    nullable: true,
    description: "Why new scans wait in the queue (a live instance is CRITICAL); null when they may start. They are admitted and start when it clears.",
  })
  capacityHold!: string | null;
}

@ObjectType({ description: "An action, with the figure behind it." })
export class Recommendation {
  @Field(() => Severity) severity!: Severity;
  @Field(() => String) message!: string;
  @Field(() => String, { description: "The figure behind it, e.g. pool.waiting, queueWait, forecast.memory" })
  metric!: string;
  @Field(() => String, { nullable: true }) instanceId?: string | null;
}

@ObjectType({ description: "A threshold crossed (clearedAt null while it holds), or recently recovered." })
export class Alert {
  @Field(() => CapacityLevel) level!: CapacityLevel;
  @Field(() => String) metric!: string;
  @Field(() => String) message!: string;
  @Field(() => Date, { description: "When it was raised (or cleared)" }) at!: Date;
  @Field(() => String, { nullable: true, description: "The instance it is about; null for system-wide figures" })
  instanceId!: string | null;
  @Field(() => Float) value!: number;
  @Field(() => Float) threshold!: number;
  @Field(() => Date, { nullable: true }) clearedAt!: Date | null;
}

@ObjectType("CapacitySample", { description: "One point of history: samples bucketed over time, combined across instances." })
export class CapacitySamplePoint {
  @Field(() => Date) at!: Date;
  @Field(() => Float, { description: "Highest machine CPU among instances" }) cpu!: number;
  @Field(() => Float, { description: "Highest memory in use among instances" }) memoryUsed!: number;
  @Field(() => Int) activeUsers!: number;
  @Field(() => Int) runningScans!: number;
  @Field(() => Int) queuedScans!: number;
  @Field(() => Int, { description: "Pool connections in use, summed across instances" }) poolInUse!: number;
  @Field(() => Int, { description: "Instances that sampled in this bucket" }) instances!: number;
}

@ObjectType({ description: "A live instance (heartbeat within 3 sample intervals) and its latest figures." })
export class CapacityInstance {
  @Field(() => ID) id!: string;
  @Field(() => String) kind!: string;
  @Field(() => String) hostname!: string;
  @Field(() => Int) pid!: number;
  @Field(() => Date) startedAt!: Date;
  @Field(() => Date) heartbeatAt!: Date;
  @Field(() => Date, { nullable: true }) sampledAt!: Date | null;
  @Field(() => CapacityLevel) level!: CapacityLevel;
  @Field(() => Float) cpu!: number;
  @Field(() => Float) processCpu!: number;
  @Field(() => Float) memoryUsed!: number;
  @Field(() => Float) rssBytes!: number;
  @Field(() => Float) eventLoopDelayMs!: number;
  @Field(() => PoolStats) database!: PoolStats;
  @Field(() => Float, { description: "How long callers have waited for a pool connection without a break" })
  poolWaitingSeconds!: number;
  @Field(() => Int) connectedClients!: number;
  @Field(() => Int) subscriptions!: number;
}

@ObjectType({ description: "Where the last 30 minutes' trend leads." })
export class CapacityForecast {
  @Field(() => String, { description: "memory (per instance) or queuedScans (system-wide, limit MAX_QUEUED_SCANS)" })
  metric!: string;
  @Field(() => String, { nullable: true }) instanceId!: string | null;
  @Field(() => Float) current!: number;
  @Field(() => Float) limit!: number;
  @Field(() => Float) slopePerMinute!: number;
  @Field(() => Float, { nullable: true, description: "Seconds until the limit at this trend; null when not rising" })
  secondsUntilLimit!: number | null;
}

@ObjectType({ description: "Capacity over every live instance (ADMIN only)." })
export class CapacityReport {
  @Field(() => Date) at!: Date;
  @Field(() => CapacityLevel) level!: CapacityLevel;
  @Field(() => CapacityLevel, { nullable: true, description: "Set when CAPACITY_FORCE_LEVEL overrides the computed level" })
  forcedLevel!: CapacityLevel | null;
  @Field(() => Int) activeUsers!: number;
  @Field(() => Int) connectedClients!: number;
  @Field(() => Int) subscriptions!: number;
  @Field(() => Float, { description: "0.0 .. 1.0 of the machine: the highest among live instances" }) cpu!: number;
  @Field(() => Float, { description: "0.0 .. 1.0: the highest among live instances" }) memoryUsed!: number;
  @Field(() => Float) eventLoopDelayMs!: number;
  @Field(() => ScanCapacity) scans!: ScanCapacity;
  @Field(() => PoolStats) database!: PoolStats;
  @Field(() => [Recommendation]) recommendations!: Recommendation[];
  @Field(() => [Alert]) alerts!: Alert[];
  @Field(() => [CapacityInstance]) instances!: CapacityInstance[];
  @Field(() => [CapacityForecast]) forecasts!: CapacityForecast[];
}
