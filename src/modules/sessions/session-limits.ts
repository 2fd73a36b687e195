import type { Prisma } from "../../generated/prisma/client.js";
import { AppError } from "../../shared/errors.js";

/**
 * Bounded sessions (issue 12, point 8): the rows a user can multiply inside one session are
 * capped, so one session cannot grow a table (or a `payments` / `databaseConnections` answer)
 * without limit.
 */
export type CappedRows = "payments" | "connections";

export interface SessionRowCaps {
  /** Payment records one session may hold (`MAX_PAYMENTS_PER_SESSION`). @default 200 */
  payments: number;
  /** Database connections one session may hold (`MAX_CONNECTIONS_PER_SESSION`). @default 20 */
  connections: number;
}

export const DEFAULT_SESSION_ROW_CAPS: Readonly<SessionRowCaps> = Object.freeze({ payments: 200, connections: 20 });

const WHAT: Record<CappedRows, { noun: string; variable: string; hint: string }> = {
  payments: { noun: "payment records", variable: "MAX_PAYMENTS_PER_SESSION", hint: "record further payments in another session" },
  connections: {
    noun: "database connections",
    variable: "MAX_CONNECTIONS_PER_SESSION",
    hint: "delete one you no longer need, or save it in another session",
  },
};

/** The refusal: BAD_USER_INPUT with a sentence saying what to do, the field and the limit. */
export function sessionFull(kind: CappedRows, max: number): AppError {
  const { noun, variable, hint } = WHAT[kind];
  return new AppError(
    "BAD_USER_INPUT",
    `This session already holds the maximum of ${max} ${noun}; ${hint} (limit ${variable})`,
    { field: "sessionId", limit: max, reason: "SESSION_FULL" },
  );
}

/** A Prisma client or the transaction a cap check runs the insert in. */
export type RowWriter = Prisma.TransactionClient;
