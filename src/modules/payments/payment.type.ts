import { Field, ID, Int, ObjectType } from "type-graphql";

@ObjectType({ description: "A payment reference held in a session. Never card data." })
export class PaymentRecord {
  @Field(() => ID) id!: string;
  @Field(() => String) provider!: string;
  @Field(() => String) reference!: string;
  @Field(() => Int) amountCents!: number;
  @Field(() => String, { description: "ISO 4217 code, upper case." }) currency!: string;
  @Field(() => String, { description: "PENDING, AUTHORIZED, PAID, FAILED, REFUNDED or CANCELLED." }) status!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => Date) createdAt!: Date;
}
