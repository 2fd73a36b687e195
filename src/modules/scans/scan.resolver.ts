import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import type { AuthedContext, GraphQLContext } from "../../graphql/context.js";
import { AppError } from "../../shared/errors.js";
import { Session } from "../sessions/session.type.js";
import { CodeScanInput, DatabaseScanInput, DocumentScanInput } from "./scan.input.js";
import { FindingConnection, FindingType, Scan, ScanConnection, ScanError, ScanKind, ScanProgress, ScanStatus, Severity } from "./scan.type.js";

const SINCE_DESCRIPTION =
  "Where the client left off: the `at` of the last event it received (or the time just before it started a scan). Scans that ended since then are delivered first, so a scan that ends while the client is not subscribed is never missed.";

@Resolver(() => Scan)
export class ScanResolver {
  @Authorized()
  @Query(() => Scan, { nullable: true, description: "One of the viewer's scans; null for unknown ids and other users' scans alike." })
  async scan(@Arg("id", () => ID) id: string, @Ctx() ctx: AuthedContext): Promise<Scan | null> {
    return ctx.services.scans.get(ctx.user.id, id);
  }

  @Authorized()
  @Query(() => ScanConnection, { description: "The viewer's scans, newest first." })
  async scans(
    @Ctx() ctx: AuthedContext,
    @Arg("sessionId", () => ID, { nullable: true }) sessionId: string | null,
    @Arg("status", () => [ScanStatus], { nullable: true }) status: ScanStatus[] | null,
    @Arg("first", () => Int, { defaultValue: 20, nullable: true }) first: number,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Arg("kind", () => [ScanKind], { nullable: true, description: "Only these kinds" }) kind: ScanKind[] | null,
  ): Promise<ScanConnection> {
    return ctx.services.scans.list(ctx.user.id, { sessionId, status, kind, first, after });
  }

  @Authorized()
  @Mutation(() => Scan, { description: "Scans documents (text, CSV, JSON, HTML, Markdown, PDF, DOCX) in the background." })
  async startDocumentScan(@Arg("input", () => DocumentScanInput) input: DocumentScanInput, @Ctx() ctx: AuthedContext): Promise<Scan> {
    return ctx.services.scans.startDocumentScan(ctx.user.id, input);
  }

  @Authorized()
  @Mutation(() => Scan, { description: "Scans source files for secrets and personal data in the background." })
  async startCodeScan(@Arg("input", () => CodeScanInput) input: CodeScanInput, @Ctx() ctx: AuthedContext): Promise<Scan> {
    return ctx.services.scans.startCodeScan(ctx.user.id, input);
  }

  @Authorized()
  @Mutation(() => Scan, { description: "Samples a saved database connection's tables in the background." })
  async startDatabaseScan(@Arg("input", () => DatabaseScanInput) input: DatabaseScanInput, @Ctx() ctx: AuthedContext): Promise<Scan> {
    return ctx.services.scans.startDatabaseScan(ctx.user.id, input);
  }

  @Authorized()
  @Mutation(() => Scan, { description: "Ends a QUEUED or RUNNING scan as CANCELLED; a finished scan is returned unchanged." })
  async cancelScan(@Arg("id", () => ID) id: string, @Ctx() ctx: AuthedContext): Promise<Scan> {
    return ctx.services.scans.cancel(ctx.user.id, id);
  }

  @FieldResolver(() => Int, { nullable: true, description: "1-based while QUEUED, else null" })
  async queuePosition(@Root() scan: Scan, @Ctx() ctx: AuthedContext): Promise<number | null> {
    if (scan.status !== ScanStatus.QUEUED) return null;
    return ctx.loaders.queuePositions.load(scan.id);
  }

  @FieldResolver(() => ScanError, { nullable: true, description: "Set when FAILED" })
  error(@Root() scan: Scan): ScanError | null {
    return scan.errorCode ? { code: scan.errorCode, message: scan.errorMessage ?? scan.errorCode } : null;
  }

  @FieldResolver(() => Session)
  async session(@Root() scan: Scan, @Ctx() ctx: AuthedContext): Promise<Session> {
    const session = await ctx.loaders.sessions.load(scan.sessionId);
    if (!session) throw new AppError("NOT_FOUND", "Session not found");
    return session;
  }

  @FieldResolver(() => FindingConnection, { description: "Masked findings in a stable order; filter by type and severity (the count follows the filter)." })
  async findings(
    @Root() scan: Scan,
    @Ctx() ctx: AuthedContext,
    @Arg("first", () => Int, { defaultValue: 100, nullable: true }) first: number,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Arg("type", () => [FindingType], { nullable: true, description: "Only these types" }) type: FindingType[] | null,
    @Arg("severity", () => [Severity], { nullable: true, description: "Only these severities" }) severity: Severity[] | null,
  ): Promise<FindingConnection> {
    // Batched with the other scans of the same list (one query for a page of scans).
    return ctx.loaders.findings.load({ id: scan.id, args: { first, after, types: type, severities: severity } });
  }

  // No @Authorized here: it would run per delivered event. `subscribe` checks the caller once;
  // the feeds (scan-feed.service.ts) hold the replay logic.
  @Subscription(() => ScanProgress, {
    description: "The scan's current state first (a finished scan's too), then each change in order; completes after SUCCEEDED, FAILED or CANCELLED.",
    subscribe: async ({ args, context }) => {
      const ctx = requireUser(context as GraphQLContext);
      return ctx.services.scanFeed.scanProgress(ctx.user.id, String(args.scanId));
    },
  })
  scanProgress(
    @Arg("scanId", () => ID) _scanId: string,
    @Root() event: ScanProgress,
    @Arg("since", () => Date, { nullable: true, description: SINCE_DESCRIPTION }) _since?: Date | null,
  ): ScanProgress {
    return event;
  }

  @Subscription(() => ScanProgress, {
    description:
      "Every change of every scan of the viewer. First events: the QUEUED and RUNNING scans, and with `since` every scan that changed since then, terminal ones included (oldest first).",
    subscribe: async ({ args, context }) => {
      const ctx = requireUser(context as GraphQLContext);
      return ctx.services.scanFeed.myScans(ctx.user.id, toDate(args.since));
    },
  })
  myScans(@Root() event: ScanProgress, @Arg("since", () => Date, { nullable: true, description: SINCE_DESCRIPTION }) _since?: Date | null): ScanProgress {
    return event;
  }
}

function toDate(value: unknown): Date | null {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value : null;
}

/** `Session.scans`: the scans module extends the sessions module's type (dependencies point this way). */
@Resolver(() => Session)
export class SessionScansResolver {
  @FieldResolver(() => ScanConnection)
  async scans(
    @Root() session: Session,
    @Ctx() ctx: AuthedContext,
    @Arg("first", () => Int, { defaultValue: 20, nullable: true }) first: number,
    @Arg("after", () => String, { nullable: true }) after: string | null,
  ): Promise<ScanConnection> {
    // The parent session was loaded owner-scoped; its scans are batched with its siblings'.
    ctx.services.sessions.touch(ctx.user.id, session.id);
    return ctx.loaders.sessionScans.load({ id: session.id, args: { first, after } });
  }
}

function requireUser(ctx: GraphQLContext): AuthedContext {
  if (!ctx.user) throw new AppError("UNAUTHENTICATED", "Authentication required");
  return ctx as AuthedContext;
}
