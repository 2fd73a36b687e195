import { Field, InputType } from "type-graphql";

/** Validated in SessionService (errors carry `extensions.field`), not by class-validator. */
@InputType()
export class OpenSessionInput {
  @Field(() => String, { nullable: true, description: "A label for the user; at most 200 characters, no control characters." })
  name?: string | null;
}
