import type { Logger } from "../../platform/observability/logger.js";
import type { ScanQueue } from "../../platform/queue/scan-queue.js";
import { AppError } from "../../shared/errors.js";
import { codeFilePath, documentName } from "./input-names.js";
import { decodeCursor, keysetPage, pageSize } from "../../shared/pagination.js";
import { findingPage, findingQuery, type FindingArgs } from "./finding-page.js";
import type { ScanEvents } from "./scan-events.js";
import type { CodeScanInput, DatabaseScanInput, DocumentInput, DocumentScanInput } from "./scan.input.js";
import type { InputBox } from "./input-box.js";
import type { ScanOwnerRepo } from "./scan-owner.repo.js";
import { isUuid } from "../../shared/ids.js";
import type { ScanInputRow } from "./scan.repo.js";
import { scanNameFromConnection, scanNameFromFiles } from "./scan-name.js";
import { fileTooLarge, scanTooLarge, tooManyFiles } from "./upload-messages.js";
import { type Scan, ScanKind, ScanStatus, type ScanWaitReason, waitingForOf } from "./scan.type.js";
import { monitorUnavailableReason, type AdmissionVerdict, type CapacityPort } from "./capacity.port.js";

export interface ScanLimits {
  perUser: number;
  maxConcurrent: number;
  maxQueued: number;
  maxDocuments: number;
  maxDocumentBytes: number;
  maxScanBytes: number;
  /** MAX_BODY_SIZE: shown to clients (uploadLimits) so they can check before sending. */
  maxRequestBytes?: number;
}

/** What scans need from the modules they depend on (sessions, connections, capacity). */
export interface ScanCollaborators {
  /** Throws NOT_FOUND unless the session is the owner's and alive. */
  requireSession(ownerId: string, sessionId: string): Promise<void>;
  /** Throws NOT_FOUND unless the connection is the owner's; its name names the scan. */
  requireConnection(ownerId: string, connectionId: string): Promise<{ name: string } | void>;
  /** Marks the session active (throttled). */
  touchSession(ownerId: string, sessionId: string): void;
  /** The capacity monitor's say on admitting a scan; refuses when it cannot tell. */
  admissionVerdict: CapacityPort["admissionVerdict"];
  /** Why workers hold new scans back now (capacity CRITICAL somewhere), or null. */
  claimHold: CapacityPort["claimHold"];
}

const CODE_PATH_MAX = 500;

/**
 * Scan use cases. Admission is atomic in PostgreSQL (scan-owner.repo.ts); a started scan is
 * announced (QUEUED with its position) and handed to the queue at once; workers take it from
 * there (scan-worker.ts).
 */
export class ScanService {
  constructor(
    private readonly deps: {
      repo: ScanOwnerRepo;
      events: ScanEvents;
      queue: ScanQueue;
      collaborators: ScanCollaborators;
      limits: ScanLimits;
      log: Logger;
      /** Seals queued inputs at rest (input-box.ts); unset stores them as given (tests). */
      inputBox?: InputBox;
    },
  ) {}

  /** The upload limits, for `uploadLimits` (scan-limits.resolver.ts). */
  get limits(): Readonly<ScanLimits> {
    return this.deps.limits;
  }

  async get(ownerId: string, id: string): Promise<Scan | null> {
    return this.deps.repo.findOwned(ownerId, id);
  }

  async require(ownerId: string, id: string): Promise<Scan> {
    const scan = await this.deps.repo.findOwned(ownerId, id);
    if (!scan) throw new AppError("NOT_FOUND", "Scan not found");
    return scan;
  }

  async list(ownerId: string, args: { sessionId?: string | null; status?: ScanStatus[] | null; kind?: ScanKind[] | null; first?: number | null; after?: string | null }) {
    const take = pageSize(args.first, 20, 100);
    const after = args.after ? decodeCursor(args.after) : null;
    if (args.sessionId) {
      await this.deps.collaborators.requireSession(ownerId, args.sessionId);
      this.deps.collaborators.touchSession(ownerId, args.sessionId);
    }
    const { rows, totalCount } = await this.deps.repo.listOwned({ ownerId, sessionId: args.sessionId, statuses: args.status, kinds: args.kind, take, after });
    return keysetPage(rows, take, totalCount);
  }

  async findings(ownerId: string, scanId: string, args: FindingArgs) {
    const query = findingQuery(args);
    const { rows, totalCount } = await this.deps.repo.listFindingsOwned({ ownerId, scanId, ...query });
    return findingPage(rows, query.take, totalCount);
  }

  /** What a QUEUED scan waits for: capacity while the monitor holds new scans back, else a free slot. */
  waitingFor(scan: Pick<Scan, "status">): ScanWaitReason | null {
    return scan.status === ScanStatus.QUEUED ? waitingForOf(scan.status, this.deps.collaborators.claimHold()) : null;
  }

  /**
   * The capacity hold began or ended: every QUEUED scan gets a new sequence number and is
   * republished with its position, so subscribers read what it now waits for (waitingFor).
   */
  async announceQueueWait(): Promise<void> {
    const all = await this.deps.repo.advanceQueue({ createdAt: new Date(0), id: "00000000-0000-0000-0000-000000000000" });
    await this.deps.events.publishMany(all.map((m) => ({ scan: m.scan, position: m.position })));
  }

  async queuePositions(ids: readonly string[]): Promise<Map<string, number>> {
    return this.deps.repo.queuePositions(ids);
  }

  startDocumentScan(ownerId: string, input: DocumentScanInput): Promise<Scan> {
    const inputs = this.decodeDocuments(input.documents, "documents", false);
    return this.start(ownerId, input.sessionId, ScanKind.DOCUMENT, inputs, null, null, scanNameFromFiles(inputs.map((i) => i.name)));
  }

  startCodeScan(ownerId: string, input: CodeScanInput): Promise<Scan> {
    const inputs = this.decodeDocuments(input.files, "files", true);
    return this.start(ownerId, input.sessionId, ScanKind.CODE, inputs, null, null, scanNameFromFiles(inputs.map((i) => i.name)));
  }

  async startDatabaseScan(ownerId: string, input: DatabaseScanInput): Promise<Scan> {
    const sampleSize = input.sampleSize ?? 100;
    if (!Number.isInteger(sampleSize) || sampleSize < 1 || sampleSize > 10_000) {
      throw new AppError("BAD_USER_INPUT", "sampleSize must be between 1 and 10000", { field: "sampleSize" });
    }
    const tables = input.tables?.map((t) => t.trim()).filter(Boolean) ?? null;
    if (tables?.some((t) => t.length > 300 || /[\u0000-\u001f]/.test(t))) {
      throw new AppError("BAD_USER_INPUT", "Table names must be at most 300 characters without control characters", { field: "tables" });
    }
    if (!isUuid(input.connectionId)) throw new AppError("NOT_FOUND", "Database connection not found");
    const connection = await this.deps.collaborators.requireConnection(ownerId, input.connectionId);
    const name = scanNameFromConnection(connection?.name);
    return this.start(ownerId, input.sessionId, ScanKind.DATABASE, [], { sampleSize, tables }, input.connectionId, name);
  }

  private async start(
    ownerId: string,
    sessionId: string,
    kind: ScanKind,
    inputs: ScanInputRow[],
    options: { sampleSize: number; tables: string[] | null } | null,
    connectionId: string | null,
    name: string | null = null,
  ): Promise<Scan> {
    const { repo, events, queue, collaborators, limits, log } = this.deps;
    if (!isUuid(sessionId)) throw new AppError("NOT_FOUND", "Session not found");
    await collaborators.requireSession(ownerId, sessionId);
    collaborators.touchSession(ownerId, sessionId);

    let verdict: AdmissionVerdict;
    try {
      verdict = await collaborators.admissionVerdict();
    } catch (err) {
      log.error({ err }, "capacity verdict failed; refusing the scan");
      verdict = { allowed: false, retryAfterSeconds: 30, reason: monitorUnavailableReason(30) };
    }
    // At CRITICAL the scan is still admitted and waits in the queue (Scan.waitingFor: CAPACITY);
    // only critical memory or a monitor that cannot tell refuses, with one sentence.
    if (!verdict.allowed) {
      throw new AppError("CAPACITY_EXCEEDED", verdict.reason, { retryAfterSeconds: verdict.retryAfterSeconds });
    }

    const result = await repo.admit({
      ownerId,
      sessionId,
      kind,
      name,
      inputs,
      options,
      connectionId,
      limits: { perUser: limits.perUser, maxConcurrent: limits.maxConcurrent, maxQueued: limits.maxQueued },
      ...(this.deps.inputBox ? { seal: this.deps.inputBox.seal } : {}),
    });
    if (!result.ok) {
      if (result.reason === "USER_LIMIT") {
        log.info({ limit: "MAX_SCANS_PER_USER", value: limits.perUser }, "scan refused: the user's active scans are at the limit");
        throw new AppError("SCAN_LIMIT_REACHED", `You already have ${limits.perUser} scans queued or running, the most one person may have: wait for one to finish or cancel one`, {
          limit: limits.perUser,
        });
      }
      log.info({ limit: "MAX_QUEUED_SCANS", value: limits.maxQueued }, "scan refused: the queue is full");
      throw new AppError("CAPACITY_EXCEEDED", `The scan queue is full (${limits.maxQueued} scans waiting); retry in 30 s`, {
        retryAfterSeconds: 30,
      });
    }
    const { scan, position } = result;
    await events.publish(scan, position);
    try {
      await queue.enqueue(scan.id);
    } catch (err) {
      // The scan is safe in PostgreSQL; the maintenance job enqueues it when the queue is back.
      log.warn({ scanId: scan.id, err: (err as Error).message }, "scan queued in PostgreSQL only; the queue backend is unreachable");
    }
    return scan;
  }

  /** Ends a QUEUED or RUNNING scan as CANCELLED; a finished scan is returned unchanged. */
  async cancel(ownerId: string, id: string): Promise<Scan> {
    const { repo, events, queue } = this.deps;
    const result = await repo.cancelOwned(ownerId, id);
    if (!result) throw new AppError("NOT_FOUND", "Scan not found");
    const { scan, previous } = result;
    if (previous === ScanStatus.QUEUED || previous === ScanStatus.RUNNING) {
      await events.publish(scan);
      if (previous === ScanStatus.RUNNING) await events.broadcastCancel(scan.id);
      const moved = await repo.advanceQueue({ createdAt: scan.createdAt, id: scan.id });
      await events.publishMany(moved.map((m) => ({ scan: m.scan, position: m.position })));
      queue.wake();
    }
    return scan;
  }

  /** Session close and expiry: cancel what runs in those sessions before their rows go. */
  async cancelInSessions(ownerId: string | null, sessionIds: string[]): Promise<void> {
    const { repo, events, queue } = this.deps;
    const cancelled = await repo.cancelInSessions(ownerId, sessionIds);
    for (const scan of cancelled) {
      await events.publish(scan);
      await events.broadcastCancel(scan.id);
    }
    if (cancelled.length > 0) queue.wake();
  }

  private decodeDocuments(docs: DocumentInput[], field: string, isCode: boolean): ScanInputRow[] {
    const { limits } = this.deps;
    if (docs.length === 0) throw new AppError("BAD_USER_INPUT", `${field} must not be empty`, { field });
    if (docs.length > limits.maxDocuments) {
      this.deps.log.info({ limit: "MAX_DOCUMENTS_PER_SCAN", value: limits.maxDocuments, count: docs.length }, "scan refused: too many files");
      throw new AppError("BAD_USER_INPUT", tooManyFiles(docs.length, limits.maxDocuments), { field, limit: "MAX_DOCUMENTS_PER_SCAN", max: limits.maxDocuments });
    }
    let total = 0;
    return docs.map((doc, i) => {
      const at = `${field}[${i}]`;
      const name = isCode ? codeFilePath(doc.name, at) : documentName(doc.name, at);
      if (!name || name.length > CODE_PATH_MAX || /[\u0000-\u001f]/.test(name)) {
        throw new AppError("BAD_USER_INPUT", `${at}.name must be 1-${CODE_PATH_MAX} characters without control characters`, { field: `${at}.name` });
      }
      const hasText = doc.text !== null && doc.text !== undefined;
      const hasBase64 = doc.base64 !== null && doc.base64 !== undefined;
      if (hasText === hasBase64) {
        throw new AppError("BAD_USER_INPUT", `${at} needs exactly one of text or base64`, { field: at });
      }
      // Size first, from the string itself: an oversized file is refused before anything is
      // allocated, encoded or decoded for it.
      const b64 = hasText ? "" : doc.base64!.replace(/\s+/g, "");
      const bytes = hasText ? Buffer.byteLength(doc.text!, "utf8") : Buffer.byteLength(b64, "base64");
      if (bytes > limits.maxDocumentBytes) {
        this.deps.log.info({ limit: "MAX_DOCUMENT_BYTES", value: limits.maxDocumentBytes, bytes }, "scan refused: a file over the size limit");
        throw new AppError("BAD_USER_INPUT", fileTooLarge(name, bytes, limits.maxDocumentBytes), { field: at, limit: "MAX_DOCUMENT_BYTES", max: limits.maxDocumentBytes });
      }
      total += bytes;
      if (total > limits.maxScanBytes) {
        this.deps.log.info({ limit: "MAX_SCAN_BYTES", value: limits.maxScanBytes, bytes: total }, "scan refused: files over the per-scan size limit");
        throw new AppError("BAD_USER_INPUT", scanTooLarge(docs.length, total, limits.maxScanBytes), { field, limit: "MAX_SCAN_BYTES", max: limits.maxScanBytes });
      }
      if (!hasText && (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64))) {
        throw new AppError("BAD_USER_INPUT", `${at}.base64 is not valid base64`, { field: `${at}.base64` });
      }
      const content: Uint8Array = hasText ? Buffer.from(doc.text!, "utf8") : Buffer.from(b64, "base64");
      return { name, content };
    });
  }
}
