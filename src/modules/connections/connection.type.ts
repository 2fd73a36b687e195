import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export enum DatabaseEngine {
  POSTGRESQL = "POSTGRESQL",
  MYSQL = "MYSQL",
}
registerEnumType(DatabaseEngine, { name: "DatabaseEngine" });

@ObjectType({ description: "A stored database to scan. The password is encrypted at rest and never readable." })
export class DatabaseConnection {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => DatabaseEngine) engine!: DatabaseEngine;
  @Field(() => String) host!: string;
  @Field(() => Int) port!: number;
  @Field(() => String) database!: string;
  @Field(() => String) user!: string;
  @Field(() => Boolean) ssl!: boolean;
  @Field(() => Date) createdAt!: Date;
}

@ObjectType({ description: "The outcome of trying to connect with a stored connection." })
export class ConnectionTestResult {
  @Field(() => Boolean) ok!: boolean;

  @Field(() => String, {
    nullable: true,
    description: "Why it failed: HOST_NOT_ALLOWED, CONNECTION_FAILED, AUTHENTICATION_FAILED, PERMISSION_DENIED, DATABASE_NOT_FOUND, TIMEOUT, SECRET_UNAVAILABLE, SCAN_FAILED.",
  })
  code!: string | null;

  @Field(() => String, { nullable: true }) message!: string | null;
  @Field(() => String, { nullable: true }) serverVersion!: string | null;
}
