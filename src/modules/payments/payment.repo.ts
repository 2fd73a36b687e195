import type { PrismaClient } from "../../generated/prisma/client.js";
import { isUuid } from "../sessions/session.repo.js";

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

  insert(ownerId: string, row: NewPayment): Promise<PaymentRow> {
    return this.prisma.paymentRecord.create({ data: { ...row, ownerId } });
  }

  listBySession(ownerId: string, sessionId: string): Promise<PaymentRow[]> {
    if (!isUuid(sessionId)) return Promise.resolve([]);
    return this.prisma.paymentRecord.findMany({ where: { ownerId, sessionId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  }
}
