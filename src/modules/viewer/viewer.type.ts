import { Field, ID, ObjectType, registerEnumType } from "type-graphql";

export enum Role {
  USER = "USER",
  ADMIN = "ADMIN",
}
registerEnumType(Role, { name: "Role" });

@ObjectType({ description: "The authenticated caller." })
export class Viewer {
  @Field(() => ID)
  id!: string;

  @Field(() => Role)
  role!: Role;
}
