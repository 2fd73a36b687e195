import { Field, ID, InputType, Int } from "type-graphql";
import { DatabaseEngine } from "./connection.type.js";

/** Validated in ConnectionService (errors carry `extensions.field`), not by class-validator. */
@InputType()
export class DatabaseConnectionInput {
  @Field(() => ID) sessionId!: string;
  @Field(() => String, { description: "At most 100 characters." }) name!: string;
  @Field(() => DatabaseEngine) engine!: DatabaseEngine;
  @Field(() => String, { description: "A hostname or an IP address (IPv6 may be in brackets)." }) host!: string;
  @Field(() => Int, { description: "1..65535." }) port!: number;
  @Field(() => String, { description: "At most 63 characters." }) database!: string;
  @Field(() => String, { description: "At most 63 characters." }) user!: string;
  @Field(() => String, { description: "Encrypted at rest, never returned. At most 1024 characters." }) password!: string;
  @Field(() => Boolean, { nullable: true, defaultValue: false }) ssl?: boolean | null;
}
