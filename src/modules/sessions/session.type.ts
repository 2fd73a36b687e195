import { Field, ID, Int, ObjectType } from "type-graphql";

/**
 * A user's working container (API.md). `scans(first, after)` is added by the scans module
 * with a @FieldResolver on this type.
 */
@ObjectType({ description: "A user's working container; it and everything in it are deleted SESSION_TTL after its last activity." })
export class Session {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  lastActiveAt!: Date;

  @Field(() => Date)
  expiresAt!: Date;
}

@ObjectType({ description: "Rows the database holds, by kind (admin debug view)." })
export class RowsHeld {
  @Field(() => Int) sessions!: number;
  @Field(() => Int) scans!: number;
  @Field(() => Int) findings!: number;
  @Field(() => Int) scanInputs!: number;
  @Field(() => Int) connections!: number;
  @Field(() => Int) payments!: number;
}

@ObjectType({ description: "What one run of the session-expiry job deleted." })
export class CleanupRunInfo {
  @Field(() => String) instanceId!: string;
  @Field(() => Date) startedAt!: Date;
  @Field(() => Date, { nullable: true }) finishedAt!: Date | null;
  @Field(() => Int) sessionsDeleted!: number;
  @Field(() => Int) scansDeleted!: number;
  @Field(() => Int) findingsDeleted!: number;
  @Field(() => Int) inputsDeleted!: number;
  @Field(() => Int) connectionsDeleted!: number;
  @Field(() => Int) paymentsDeleted!: number;
  @Field(() => Int) scansCancelled!: number;
}

@ObjectType({ description: "Session-manager statistics for admins (the original's debug view, made real)." })
export class SessionManagerStats {
  @Field(() => Int, { description: "Sessions not yet expired." })
  sessions!: number;

  @Field(() => Int, { description: "Users seen in the last 5 minutes, across all instances." })
  activeUsers!: number;

  @Field(() => RowsHeld)
  rowsHeld!: RowsHeld;

  @Field(() => Date, { nullable: true, description: "Creation time of the oldest session still held." })
  oldestSessionCreatedAt!: Date | null;

  @Field(() => Int, { description: "Sessions whose expiry has passed and that the next cleanup will delete." })
  expiredPending!: number;

  @Field(() => CleanupRunInfo, { nullable: true, description: "The last cleanup run that deleted anything (any instance)." })
  lastCleanup!: CleanupRunInfo | null;

  @Field(() => Int, { description: "SESSION_TTL in milliseconds." })
  sessionTtlMs!: number;
}
