import type { PrismaClient } from "../../generated/prisma/client.js";
import { isUuid } from "../../shared/ids.js";
import { afterAnchor, type ListPage } from "../sessions/list-page.js";
import type { RowWriter } from "../sessions/session-limits.js";

export interface PaymentRow {
  id: string;
  ownerId: string;
  sessionId: string;
  provider: string;
  reference: string;
  amountCents: number;
  currency: string;
  status: string;
  description: string | null;
  createdAt: Date;
}

export type NewPayment = Omit<PaymentRow, "id" | "ownerId" | "createdAt">;

/** Payment rows; every function takes `ownerId` and puts it in the `where`. */
export class PaymentRepo {
  constructor(private readonly prisma: PrismaClient) {}

  /** `db`: the transaction of a cap check (session-limits.ts), or this repo's client. */
  insert(ownerId: string, row: NewPayment, db: RowWriter = this.prisma): Promise<PaymentRow> {
    return db.paymentRecord.create({ data: { ...row, ownerId } });
  }

  /**
   * The session's payments, oldest first; one page when `page` is given (its `after` must be a
   * payment of this session, else "BAD_AFTER").
   */
  async listBySession(ownerId: string, sessionId: string, page?: ListPage): Promise<PaymentRow[] | "BAD_AFTER"> {
    if (!isUuid(sessionId)) return [];
    let after = {};
    if (page?.after) {
      const anchor = await this.prisma.paymentRecord.findFirst({ where: { id: page.after, ownerId, sessionId }, select: { id: true, createdAt: true } });
      if (!anchor) return "BAD_AFTER";
      after = afterAnchor(anchor);
    }
    return this.prisma.paymentRecord.findMany({
      where: { ownerId, sessionId, ...after },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      ...(page ? { take: page.first } : {}),
    });
  }
}
