import { badInput } from "../../shared/errors.js";
import type { Logger } from "../../platform/observability/logger.js";
import { cleanText } from "../../shared/text.js";
import type { SessionService } from "../sessions/session.service.js";
import { badAfter, listPage } from "../sessions/list-page.js";
import { containsCardNumber } from "./card-guard.js";
import type { PaymentInput } from "./payment.input.js";
import type { NewPayment, PaymentRepo, PaymentRow } from "./payment.repo.js";

export const PAYMENT_STATUSES = ["PENDING", "AUTHORIZED", "PAID", "FAILED", "REFUNDED", "CANCELLED"] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** ISO 4217 codes as ICU knows them (a real list, not a regex). */
const CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf("currency"));
/** GraphQL Int (and the int4 column) cap amounts at 2^31 - 1 cents. */
export const MAX_AMOUNT_CENTS = 2_147_483_647;
export const PAYMENT_LIMITS = { provider: 64, reference: 128, description: 500 } as const;

export class PaymentService {
  constructor(
    private readonly repo: PaymentRepo,
    private readonly sessions: SessionService,
    private readonly log: Logger,
  ) {}

  async record(ownerId: string, input: PaymentInput): Promise<PaymentRow> {
    const valid = validatePaymentInput(input);
    const session = await this.sessions.requireOwned(ownerId, input.sessionId, "sessionId");
    const row = await this.sessions.insertWithinCap(ownerId, session.id, "payments", (db) => this.repo.insert(ownerId, { ...valid, sessionId: session.id }, db));
    this.log.info({ paymentId: row.id, sessionId: session.id }, "payment recorded");
    return row;
  }

  /** One page of the session's payments, oldest first (`first` 1..500, `after` the last id of the previous page). */
  async list(ownerId: string, sessionId: string, first?: number | null, after?: string | null): Promise<PaymentRow[]> {
    const page = listPage(first, after);
    const session = await this.sessions.requireOwned(ownerId, sessionId, "sessionId");
    const rows = await this.repo.listBySession(ownerId, session.id, page);
    if (rows === "BAD_AFTER") throw badAfter();
    return rows;
  }
}

/** Field-by-field validation; the first failure is BAD_USER_INPUT naming its field (never echoing the value). */
export function validatePaymentInput(input: PaymentInput): Omit<NewPayment, "sessionId"> {
  const provider = cleanText(input.provider, "provider", PAYMENT_LIMITS.provider);
  const reference = cleanText(input.reference, "reference", PAYMENT_LIMITS.reference);
  const description = cleanText(input.description, "description", PAYMENT_LIMITS.description, true);
  for (const [field, value] of [["provider", provider], ["reference", reference], ["description", description]] as const) {
    if (containsCardNumber(value)) {
      throw badInput(`${field} looks like it holds a card number; payment records store references, never card data`, field);
    }
  }
  const amount = input.amountCents;
  if (!Number.isInteger(amount) || amount <= 0 || amount > MAX_AMOUNT_CENTS) {
    throw badInput(`amountCents must be a whole number of cents between 1 and ${MAX_AMOUNT_CENTS}`, "amountCents");
  }
  const currency = typeof input.currency === "string" ? input.currency.trim().toUpperCase() : "";
  if (!/^[A-Z]{3}$/.test(currency) || !CURRENCIES.has(currency)) throw badInput("currency must be an ISO 4217 code such as EUR", "currency");
  const status = typeof input.status === "string" ? input.status.trim().toUpperCase() : "";
  if (!(PAYMENT_STATUSES as readonly string[]).includes(status)) {
    throw badInput(`status must be one of ${PAYMENT_STATUSES.join(", ")}`, "status");
  }
  return { provider, reference, description, amountCents: amount, currency, status };
}
