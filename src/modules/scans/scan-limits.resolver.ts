import { Authorized, Ctx, Field, Float, Int, ObjectType, Query, Resolver } from "type-graphql";
import type { AuthedContext } from "../../graphql/context.js";

/** Extensions read as documents (text-extract.ts detects by content first, then by these). */
export const DOCUMENT_EXTENSIONS = ["txt", "csv", "tsv", "json", "md", "markdown", "html", "htm", "xml", "log", "yaml", "yml", "pdf", "docx"] as const;

@ObjectType({ description: "What one scan may upload: clients check files against these before sending." })
export class UploadLimits {
  @Field(() => Float, { description: "Bytes per document or code file" })
  maxDocumentBytes!: number;

  @Field(() => Float, { description: "Bytes per scan, all files together" })
  maxScanBytes!: number;

  @Field(() => Int, { description: "Files per scan" })
  maxDocumentsPerScan!: number;

  @Field(() => Float, { description: "Bytes per request body; base64 makes a binary file a third larger" })
  maxRequestBytes!: number;

  @Field(() => [String], { description: "File extensions read as documents (PDF, DOCX, text formats)" })
  documentExtensions!: string[];
}

@Resolver()
export class ScanLimitsResolver {
  @Authorized()
  @Query(() => UploadLimits, { description: "What one scan may upload (sizes in bytes), for checks before sending." })
  uploadLimits(@Ctx() ctx: AuthedContext): UploadLimits {
    const l = ctx.services.scans.limits;
    return {
      maxDocumentBytes: l.maxDocumentBytes,
      maxScanBytes: l.maxScanBytes,
      maxDocumentsPerScan: l.maxDocuments,
      maxRequestBytes: l.maxRequestBytes ?? l.maxScanBytes,
      documentExtensions: [...DOCUMENT_EXTENSIONS],
    };
  }
}
