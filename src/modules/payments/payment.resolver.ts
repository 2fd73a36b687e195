import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { AuthedContext } from "../../graphql/context.js";
import { PaymentInput } from "./payment.input.js";
import { PaymentRecord } from "./payment.type.js";

@Resolver(() => PaymentRecord)
export class PaymentResolver {
  @Authorized()
  @Mutation(() => PaymentRecord, { description: "Records a payment reference in one of the caller's sessions; card numbers are refused." })
  recordPayment(@Ctx() ctx: AuthedContext, @Arg("input", () => PaymentInput) input: PaymentInput): Promise<PaymentRecord> {
    return ctx.services.payments.record(ctx.user.id, input);
  }

  @Authorized()
  @Query(() => [PaymentRecord], {
    description: "The session's payment records, oldest first, one page at a time: `first` (1..500), `after` the id of the last record of the previous page.",
  })
  payments(
    @Ctx() ctx: AuthedContext,
    @Arg("sessionId", () => ID) sessionId: string,
    @Arg("first", () => Int, { defaultValue: 100, nullable: true }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
  ): Promise<PaymentRecord[]> {
    return ctx.services.payments.list(ctx.user.id, sessionId, first, after);
  }
}
