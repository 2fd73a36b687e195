import { MaxLength } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";
import { DatabaseEngine } from "./connection.type.js";

/**
 * Field rules are checked in ConnectionService (errors carry `extensions.field`). The
 * class-validator caps here are the outer bound on size (issue 12): a megabyte string is
 * refused before any per-character work.
 */
const OUTER = (max: number) => MaxLength(max, { message: `$property must be at most ${max} characters` });

@InputType()
export class DatabaseConnectionInput {
  @Field(() => ID) sessionId!: string;
  @Field(() => String, { description: "At most 100 characters." }) @OUTER(1024) name!: string;
  @Field(() => DatabaseEngine) engine!: DatabaseEngine;
  @Field(() => String, { description: "A hostname or an IP address (IPv6 may be in brackets)." }) @OUTER(1024) host!: string;
  @Field(() => Int, { description: "1..65535." }) port!: number;
  @Field(() => String, { description: "At most 63 characters." }) @OUTER(1024) database!: string;
  @Field(() => String, { description: "At most 63 characters." }) @OUTER(1024) user!: string;
  @Field(() => String, { description: "Encrypted at rest, never returned. At most 256 characters." }) @OUTER(4096) password!: string;
  @Field(() => Boolean, { nullable: true, defaultValue: false }) ssl?: boolean | null;
}

/** What to change in a saved connection; a field left out (or null) keeps its value, the password too. */
@InputType()
export class DatabaseConnectionChanges {
  @Field(() => String, { nullable: true, description: "At most 100 characters." }) @OUTER(1024) name?: string | null;
  @Field(() => DatabaseEngine, { nullable: true }) engine?: DatabaseEngine | null;
  @Field(() => String, { nullable: true, description: "A hostname or an IP address (IPv6 may be in brackets)." }) @OUTER(1024) host?: string | null;
  @Field(() => Int, { nullable: true, description: "1..65535." }) port?: number | null;
  @Field(() => String, { nullable: true, description: "At most 63 characters." }) @OUTER(1024) database?: string | null;
  @Field(() => String, { nullable: true, description: "At most 63 characters." }) @OUTER(1024) user?: string | null;
  @Field(() => String, { nullable: true, description: "A new password, encrypted at rest; left out, the stored one is kept." }) @OUTER(4096) password?: string | null;
  @Field(() => Boolean, { nullable: true }) ssl?: boolean | null;
}
