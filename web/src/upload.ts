/**
 * Uploads (issue 14, point 2): files are checked against the server's limits before anything
 * is sent, read without blocking the page (Blob.text() and FileReader's native base64), and
 * posted with XMLHttpRequest so the page can show how much has gone.
 */
import { formatBytes, type KnownLimits } from "./client";

export interface UploadLimitsInfo extends KnownLimits {
  documentExtensions: readonly string[];
}

export type ScanAs = "DOCUMENT" | "CODE";

const CODE_EXT = new Set("js jsx mjs cjs ts tsx py rb go java kt cs php c h cpp hpp rs swift scala sh bash ps1 tf env yaml yml json properties gradle sql ini cfg conf xml toml".split(" "));
/** Text formats the server reads as plain text even though they are not in its document list. */
const TEXT_EXT = new Set("txt csv tsv json md markdown html htm xml log yaml yml ini env cfg conf sql properties toml".split(" "));
/** Programs, archives and media: never documents, refused before upload with a sentence. */
const PROGRAM_EXT = new Set("exe dll so dylib bin msi app dmg iso com scr bat cmd apk jar class o a lib".split(" "));
const MEDIA_EXT = new Set("png jpg jpeg gif bmp webp tif tiff heic mp3 wav mp4 mov avi mkv zip gz tgz 7z rar tar".split(" "));

export const extensionOf = (name: string): string => {
  const m = /\.([^./\\]+)$/.exec(name);
  return m ? m[1]!.toLowerCase() : "";
};

/** PDF and DOCX travel as base64; everything else as text. */
export const isBinaryDocument = (name: string): boolean => ["pdf", "docx"].includes(extensionOf(name));

export interface Candidate {
  name: string;
  size: number;
  type: string;
}

export interface Checked<T extends Candidate> {
  accepted: T[];
  /** One sentence per refused file or per limit, in MB and words. */
  problems: string[];
}

/** What the request body will weigh: text as is (JSON escapes add little), binary as base64. */
export function estimatedBodyBytes(files: readonly Candidate[]): number {
  let total = 1024;
  for (const f of files) total += (isBinaryDocument(f.name) ? Math.ceil(f.size / 3) * 4 : f.size) + f.name.length + 32;
  return total;
}

/** A sentence listing the supported types, for beside the drop zone. */
export function supportedTypesText(limits: Pick<UploadLimitsInfo, "documentExtensions"> | null, kind: ScanAs): string {
  if (kind === "CODE") return "Source and configuration files (JavaScript, TypeScript, Python, Go, Java, YAML, .env and the like).";
  const ext = limits?.documentExtensions ?? ["pdf", "docx", "txt", "csv", "json", "md", "html"];
  const main = ["pdf", "docx"].filter((e) => ext.includes(e)).map((e) => e.toUpperCase());
  const text = ext.filter((e) => !["pdf", "docx", "htm", "markdown", "yml"].includes(e)).map((e) => e.toUpperCase());
  return `${main.join(", ")} and text files (${text.join(", ")}).`;
}

/**
 * Checks files before upload: type, emptiness, size per file, size per scan, number of files,
 * and the request's weight. Refused files are left out with a sentence each; if what is left
 * still breaks a per-scan limit, nothing is accepted.
 */
export function checkFiles<T extends Candidate>(files: readonly T[], limits: UploadLimitsInfo | null, kind: ScanAs): Checked<T> {
  const problems: string[] = [];
  const accepted: T[] = [];
  for (const f of files) {
    const ext = extensionOf(f.name);
    if (PROGRAM_EXT.has(ext)) {
      problems.push(`"${f.name}" is a program, not a document: it was left out.`);
      continue;
    }
    const known = kind === "CODE" ? CODE_EXT.has(ext) || TEXT_EXT.has(ext) || f.type.startsWith("text/") : (limits?.documentExtensions.includes(ext) ?? false) || TEXT_EXT.has(ext) || f.type.startsWith("text/");
    if (MEDIA_EXT.has(ext) || (!known && ext !== "" && !f.type.startsWith("text/"))) {
      problems.push(`"${f.name}" is not a type DataGuardian reads (${kind === "CODE" ? "source files" : "PDF, DOCX or text"}): it was left out.`);
      continue;
    }
    if (f.size === 0) {
      problems.push(`"${f.name}" is empty (0 bytes): nothing to scan, so it was left out.`);
      continue;
    }
    if (limits && f.size > limits.maxDocumentBytes) {
      problems.push(`"${f.name}" is ${formatBytes(f.size)}; each file may be at most ${formatBytes(limits.maxDocumentBytes)}: it was left out.`);
      continue;
    }
    accepted.push(f);
  }
  if (limits && accepted.length > 0) {
    const total = accepted.reduce((n, f) => n + f.size, 0);
    if (accepted.length > limits.maxDocumentsPerScan) {
      problems.push(`${accepted.length} files are too many for one scan: at most ${limits.maxDocumentsPerScan}. Scan them in parts.`);
      return { accepted: [], problems };
    }
    if (total > limits.maxScanBytes) {
      problems.push(`These ${accepted.length} files are ${formatBytes(total)} together; one scan may hold at most ${formatBytes(limits.maxScanBytes)}. Scan them in parts.`);
      return { accepted: [], problems };
    }
    const body = estimatedBodyBytes(accepted);
    if (body > limits.maxRequestBytes) {
      problems.push(
        `These files make an upload of about ${formatBytes(body)} (PDF and DOCX grow by a third on the way); one upload may be at most ${formatBytes(limits.maxRequestBytes)}. Scan them in parts.`,
      );
      return { accepted: [], problems };
    }
  }
  return { accepted, problems };
}

/** One file's content for the API, read off the main thread where the browser can. */
export async function readForUpload(file: File): Promise<{ name: string; text?: string; base64?: string }> {
  const name = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
  if (!isBinaryDocument(file.name)) return { name, text: await file.text() };
  const url = await new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
  return { name, base64: url.slice(url.indexOf(",") + 1) };
}

export interface PostResult {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } | null;
}

/** POSTs a GraphQL operation, reporting bytes sent; resolves with the status and parsed body. */
export function postGraphQL(url: string, authorization: string | undefined, payload: unknown, onProgress: (sent: number, total: number) => void): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("content-type", "application/json");
    xhr.setRequestHeader("accept", "application/graphql-response+json, application/json");
    if (authorization) xhr.setRequestHeader("authorization", authorization);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    xhr.onload = () => {
      let body: PostResult["body"] = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body });
    };
    xhr.onerror = () => reject(new Error("network error"));
    xhr.send(new Blob([JSON.stringify(payload)], { type: "application/json" }));
  });
}
