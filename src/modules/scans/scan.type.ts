import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { PageInfo } from "../../shared/pagination.js";

export enum ScanKind {
  DOCUMENT = "DOCUMENT",
  DATABASE = "DATABASE",
  CODE = "CODE",
}
export enum ScanStatus {
  QUEUED = "QUEUED",
  RUNNING = "RUNNING",
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
  CANCELLED = "CANCELLED",
}
export enum Severity {
  LOW = "LOW",
  MEDIUM = "MEDIUM",
  HIGH = "HIGH",
  CRITICAL = "CRITICAL",
}
export enum FindingType {
  EMAIL = "EMAIL",
  PHONE_NUMBER = "PHONE_NUMBER",
  IBAN = "IBAN",
  CREDIT_CARD = "CREDIT_CARD",
  BSN = "BSN",
  IP_ADDRESS = "IP_ADDRESS",
  AWS_ACCESS_KEY = "AWS_ACCESS_KEY",
  PRIVATE_KEY = "PRIVATE_KEY",
  JWT = "JWT",
  API_KEY = "API_KEY",
  PASSWORD = "PASSWORD",
}
registerEnumType(ScanKind, { name: "ScanKind" });
registerEnumType(ScanStatus, { name: "ScanStatus" });
registerEnumType(Severity, { name: "Severity" });
registerEnumType(FindingType, { name: "FindingType" });

/** What a QUEUED scan waits for (issue 10, point 6). */
export enum ScanWaitReason {
  /** a live instance is CRITICAL: new scans start when capacity returns */
  CAPACITY = "CAPACITY",
  /** a free scan slot (MAX_CONCURRENT_SCANS) or a worker to take it */
  SLOT = "SLOT",
}
registerEnumType(ScanWaitReason, { name: "ScanWaitReason", description: "What a QUEUED scan waits for" });

export const WAITING_FOR_DESCRIPTION =
  "While QUEUED, what the scan waits for: CAPACITY while a live instance is CRITICAL (it starts when capacity returns), SLOT for a free scan slot; null otherwise";

/** What a scan in `status` waits for, given the capacity monitor's hold (capacity.port.ts). */
export function waitingForOf(status: ScanStatus | string, hold: string | null): ScanWaitReason | null {
  if (status !== ScanStatus.QUEUED) return null;
  return hold ? ScanWaitReason.CAPACITY : ScanWaitReason.SLOT;
}

export const TERMINAL_STATUSES: readonly ScanStatus[] = [ScanStatus.SUCCEEDED, ScanStatus.FAILED, ScanStatus.CANCELLED];
export const isTerminal = (s: ScanStatus | string): boolean => (TERMINAL_STATUSES as readonly string[]).includes(s);

@ObjectType({ description: "Why a scan FAILED." })
export class ScanError {
  @Field(() => String, { description: "Stable machine-readable code, e.g. CONNECTION_FAILED, AUTHENTICATION_FAILED, WORKER_LOST" })
  code!: string;

  @Field(() => String)
  message!: string;
}

@ObjectType({ description: "An input (document or file) a scan did not read, or read only in part, and why" })
export class SkippedInput {
  @Field(() => String, { description: "Document name or file path" })
  name!: string;

  @Field(() => String, {
    description: "Stable code: TOO_LARGE, TIME_BUDGET, MEMORY_BUDGET, UNREADABLE, UNSUPPORTED; for database tables PERMISSION_DENIED, TIMEOUT, TABLE_NOT_FOUND",
  })
  code!: string;

  @Field(() => String, { description: "What happened, for a person" })
  reason!: string;
}

/** A scan row as the service returns it (the GraphQL type's source object). */
@ObjectType()
export class Scan {
  @Field(() => ID)
  id!: string;

  /** Not exposed: used for ownership-scoped field resolvers. */
  ownerId!: string;

  sessionId!: string;

  @Field(() => ScanKind)
  kind!: ScanKind;

  /** Optional in code: raw RETURNING lists (queue moves, sweeps) leave it out. */
  @Field(() => String, { nullable: true, description: "What people call it: the file name, the first file and how many more, or the connection's name. Null for scans from before names." })
  name?: string | null;

  @Field(() => ScanStatus)
  status!: ScanStatus;

  @Field(() => Float, { description: "0.0 .. 1.0" })
  progress!: number;

  @Field(() => String, { nullable: true, description: 'Human-readable step, e.g. "sampling public.customers"' })
  stage!: string | null;

  @Field(() => Int)
  itemsProcessed!: number;

  @Field(() => Int, { nullable: true })
  itemsTotal!: number | null;

  @Field(() => Int)
  findingsCount!: number;

  @Field(() => Severity, { nullable: true, description: "Highest severity found, null when none" })
  riskLevel!: Severity | null;

  @Field(() => Boolean, { description: "True when more distinct values were found than MAX_FINDINGS_PER_SCAN allows storing" })
  // Optional in TypeScript so other builders of Scan values compile; toScan (scan.repo.ts) sets all three.
  findingsTruncated?: boolean;

  @Field(() => Int, { description: "Distinct values found but not stored (past MAX_FINDINGS_PER_SCAN); 0 when none" })
  findingsNotStored?: number;

  @Field(() => [SkippedInput], { description: "Inputs not scanned, or scanned in part, with the reason; the rest of the scan went on" })
  skipped?: SkippedInput[];

  @Field(() => Int, { description: "Per-scan event sequence number; grows with every change" })
  seq!: number;

  errorCode!: string | null;
  errorMessage!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;
}

@ObjectType()
export class FindingLocation {
  @Field(() => String, { description: 'Document name, file path, or "schema.table" for databases' })
  source!: string;

  @Field(() => Int, { nullable: true, description: "1-based, documents and code" })
  line!: number | null;

  @Field(() => String, { nullable: true })
  table!: string | null;

  @Field(() => String, { nullable: true })
  column!: string | null;
}

@ObjectType()
export class Finding {
  @Field(() => ID)
  id!: string;

  @Field(() => FindingType)
  type!: FindingType;

  @Field(() => Severity)
  severity!: Severity;

  @Field(() => Float, { description: "0.0 .. 1.0" })
  confidence!: number;

  @Field(() => String, { description: "Never the raw value" })
  maskedValue!: string;

  @Field(() => Int)
  occurrences!: number;

  @Field(() => Float, { nullable: true, description: "Database scans: share of sampled rows that matched" })
  matchRatio!: number | null;

  @Field(() => FindingLocation)
  location!: FindingLocation;
}

@ObjectType()
export class ScanEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Scan)
  node!: Scan;
}

@ObjectType()
export class ScanConnection {
  @Field(() => [ScanEdge])
  edges!: ScanEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ObjectType()
export class FindingEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Finding)
  node!: Finding;
}

@ObjectType()
export class FindingConnection {
  @Field(() => [FindingEdge])
  edges!: FindingEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ObjectType({ description: "One event of a scan's life" })
export class ScanProgress {
  @Field(() => ID)
  scanId!: string;

  @Field(() => ScanStatus)
  status!: ScanStatus;

  @Field(() => Float)
  progress!: number;

  @Field(() => String, { nullable: true })
  stage!: string | null;

  @Field(() => Int)
  itemsProcessed!: number;

  @Field(() => Int, { nullable: true })
  itemsTotal!: number | null;

  @Field(() => Int, { nullable: true })
  queuePosition!: number | null;

  /** Judged when the event is built (published or read), from the publishing instance's capacity hold. */
  @Field(() => ScanWaitReason, { nullable: true, description: WAITING_FOR_DESCRIPTION })
  waitingFor?: ScanWaitReason | null;

  @Field(() => Int)
  findingsCount!: number;

  @Field(() => Severity, { nullable: true })
  riskLevel!: Severity | null;

  @Field(() => ScanError, { nullable: true })
  error!: ScanError | null;

  @Field(() => Int, { description: "Per-scan sequence number: events arrive in increasing order" })
  seq!: number;

  @Field(() => Date)
  at!: Date;
}
