import { Field, ID, InputType, Int } from "type-graphql";

/** Validated in PaymentService (errors carry `extensions.field`), not by class-validator. */
@InputType()
export class PaymentInput {
  @Field(() => ID) sessionId!: string;
  @Field(() => String, { description: "Payment provider, at most 64 characters." }) provider!: string;
  @Field(() => String, { description: "The provider's reference, at most 128 characters. Never a card number." }) reference!: string;
  @Field(() => Int, { description: "Amount in minor units (cents), greater than 0." }) amountCents!: number;
  @Field(() => String, { description: "ISO 4217 code (case-insensitive)." }) currency!: string;
  @Field(() => String, { description: "PENDING, AUTHORIZED, PAID, FAILED, REFUNDED or CANCELLED (case-insensitive)." }) status!: string;
  @Field(() => String, { nullable: true, description: "At most 500 characters. Never a card number." }) description?: string | null;
}
