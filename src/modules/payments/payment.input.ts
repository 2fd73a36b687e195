import { MaxLength } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";

/** Outer size bound (issue 12): a megabyte string is refused before any per-character work. */
const OUTER = (max: number) => MaxLength(max, { message: `$property must be at most ${max} characters` });

/** Field rules are checked in PaymentService (errors carry `extensions.field`); class-validator only bounds sizes. */
@InputType()
export class PaymentInput {
  @Field(() => ID) sessionId!: string;
  @Field(() => String, { description: "Payment provider, at most 64 characters." }) @OUTER(1024) provider!: string;
  @Field(() => String, { description: "The provider's reference, at most 128 characters. Never a card number." }) @OUTER(1024) reference!: string;
  @Field(() => Int, { description: "Amount in minor units (cents), greater than 0." }) amountCents!: number;
  @Field(() => String, { description: "ISO 4217 code (case-insensitive)." }) @OUTER(64) currency!: string;
  @Field(() => String, { description: "PENDING, AUTHORIZED, PAID, FAILED, REFUNDED or CANCELLED (case-insensitive)." }) @OUTER(64) status!: string;
  @Field(() => String, { nullable: true, description: "At most 500 characters. Never a card number." }) @OUTER(2048) description?: string | null;
}
