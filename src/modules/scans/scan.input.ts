import { ArrayMaxSize, IsInt, IsOptional, IsString, Max, MaxLength, Min } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";

@InputType({ description: "One document or code file: exactly one of text/base64" })
export class DocumentInput {
  @Field(() => String, { description: "Document name, or the relative path for code files" })
  @IsString()
  @MaxLength(500)
  name!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  text?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  base64?: string | null;
}

@InputType()
export class DocumentScanInput {
  @Field(() => ID)
  @IsString()
  @MaxLength(64)
  sessionId!: string;

  @Field(() => [DocumentInput])
  @ArrayMaxSize(10_000)
  documents!: DocumentInput[];
}

@InputType()
export class CodeScanInput {
  @Field(() => ID)
  @IsString()
  @MaxLength(64)
  sessionId!: string;

  @Field(() => [DocumentInput], { description: "name = relative path" })
  @ArrayMaxSize(10_000)
  files!: DocumentInput[];
}

@InputType()
export class DatabaseScanInput {
  @Field(() => ID)
  @IsString()
  @MaxLength(64)
  sessionId!: string;

  @Field(() => ID)
  @IsString()
  @MaxLength(64)
  connectionId!: string;

  @Field(() => Int, { defaultValue: 100, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  sampleSize?: number | null;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(1_000)
  @IsString({ each: true })
  @MaxLength(300, { each: true })
  tables?: string[] | null;
}
