import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { AuthedContext } from "../../graphql/context.js";
import { DatabaseConnectionChanges, DatabaseConnectionInput } from "./connection.input.js";
import { ConnectionTestResult, DatabaseConnection } from "./connection.type.js";

@Resolver(() => DatabaseConnection)
export class ConnectionResolver {
  @Authorized()
  @Mutation(() => DatabaseConnection, { description: "Stores a database to scan in one of the caller's sessions." })
  async saveDatabaseConnection(
    @Ctx() ctx: AuthedContext,
    @Arg("input", () => DatabaseConnectionInput) input: DatabaseConnectionInput,
  ): Promise<DatabaseConnection> {
    return (await ctx.services.connections.save(ctx.user.id, input)) as DatabaseConnection;
  }

  @Authorized()
  @Query(() => [DatabaseConnection], {
    description: "The session's stored connections (never their passwords), oldest first, one page at a time: `first` (1..500), `after` the id of the last connection of the previous page.",
  })
  async databaseConnections(
    @Ctx() ctx: AuthedContext,
    @Arg("sessionId", () => ID) sessionId: string,
    @Arg("first", () => Int, { defaultValue: 100, nullable: true }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
  ): Promise<DatabaseConnection[]> {
    return (await ctx.services.connections.list(ctx.user.id, sessionId, first, after)) as DatabaseConnection[];
  }

  @Authorized()
  @Mutation(() => DatabaseConnection, {
    description: "Changes a saved connection in place (same id); fields left out, the password included, keep their values.",
  })
  async updateDatabaseConnection(
    @Ctx() ctx: AuthedContext,
    @Arg("id", () => ID) id: string,
    @Arg("changes", () => DatabaseConnectionChanges) changes: DatabaseConnectionChanges,
  ): Promise<DatabaseConnection> {
    return (await ctx.services.connections.update(ctx.user.id, id, changes)) as DatabaseConnection;
  }

  @Authorized()
  @Mutation(() => Boolean)
  deleteDatabaseConnection(@Ctx() ctx: AuthedContext, @Arg("id", () => ID) id: string): Promise<boolean> {
    return ctx.services.connections.delete(ctx.user.id, id);
  }

  @Authorized()
  @Mutation(() => ConnectionTestResult, {
    description: "Tries to connect with a stored connection (honouring DATABASE_SCAN_ALLOWED_HOSTS); ok, or a code and reason.",
  })
  testDatabaseConnection(@Ctx() ctx: AuthedContext, @Arg("id", () => ID) id: string): Promise<ConnectionTestResult> {
    return ctx.services.connections.test(ctx.user.id, id);
  }
}
