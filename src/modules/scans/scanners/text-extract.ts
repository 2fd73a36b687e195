/**
 * Text out of uploaded documents: the type by magic bytes first, then by extension;
 * PDF through unpdf (pdf.js), DOCX through mammoth, HTML by stripping tags while keeping
 * line numbers; plain text, CSV, JSON and Markdown as UTF-8 (UTF-16 with a BOM).
 */
import { htmlToText as markupHtmlToText } from "./markup.js";
import { ScanAbortedError, ScanInputError } from "./scanner.types.js";

export type DocumentKind = "pdf" | "docx" | "html" | "json" | "csv" | "markdown" | "text" | "binary";

function startsWith(bytes: Uint8Array, sig: readonly number[]): boolean {
  if (bytes.length < sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[i] !== sig[i]) return false;
  return true;
}

function extension(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot + 1).toLowerCase();
}

/** True when the bytes hold a NUL in the first 8 KiB (what git calls binary). */
export function looksBinary(bytes: Uint8Array): boolean {
  if (startsWith(bytes, [0xff, 0xfe]) || startsWith(bytes, [0xfe, 0xff])) return false; // UTF-16 text
  const n = Math.min(bytes.length, 8192);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

export function detectKind(name: string, bytes: Uint8Array): DocumentKind {
  if (startsWith(bytes, [0x25, 0x50, 0x44, 0x46, 0x2d])) return "pdf"; // %PDF-
  const ext = extension(name);
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) {
    // A zip: DOCX when it says so or holds word/document.xml.
    if (ext === "docx" || Buffer.from(bytes.subarray(0, Math.min(bytes.length, 65536))).includes("word/")) return "docx";
    return "binary";
  }
  if (looksBinary(bytes)) return "binary";
  switch (ext) {
    case "html":
    case "htm":
    case "xhtml":
      return "html";
    case "json":
    case "jsonl":
    case "ndjson":
      return "json";
    case "csv":
    case "tsv":
      return "csv";
    case "md":
    case "markdown":
      return "markdown";
  }
  const head = Buffer.from(bytes.subarray(0, 512)).toString("utf8").trimStart().toLowerCase();
  if (head.startsWith("<!doctype html") || head.startsWith("<html")) return "html";
  return "text";
}

/** UTF-8 (or UTF-16 with a BOM) to a string; invalid sequences become U+FFFD. */
export function decodeText(bytes: Uint8Array): string {
  if (startsWith(bytes, [0xff, 0xfe])) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (startsWith(bytes, [0xfe, 0xff])) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  return new TextDecoder("utf-8", { ignoreBOM: false }).decode(bytes);
}

/** True when the bytes are valid UTF-8 (code files that are not are skipped as binary). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Strips tags, scripts, styles and comments but keeps every newline, so a line number in
 * the result is the line in the HTML source; attribute values stay (a `mailto:` link is
 * personal data). Linear time (markup.ts; the regexes that were here were quadratic on
 * input such as 200 KB of `<`, issue 10).
 */
export const htmlToText = markupHtmlToText;

interface PdfTextItem {
  str?: string;
  hasEOL?: boolean;
}

/**
 * PDF text page by page (checking `signal` between pages); pages joined by a newline. A text
 * item with `hasEOL` ends its line, so each text line is one line of the result (line numbers
 * count text lines from the first page; test/unit/scanners/pdf-lines.test.ts). pdf.js leaves out
 * text placed outside a page's box: such hidden text is not scanned.
 */
async function pdfToText(bytes: Uint8Array, name: string, signal?: AbortSignal): Promise<string> {
  const { getDocumentProxy } = await import("unpdf");
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js takes ownership of the buffer: give it a copy.
    pdf = await getDocumentProxy(new Uint8Array(bytes));
  } catch (err) {
    throw new ScanInputError("UNREADABLE_PDF", `${name}: not a readable PDF (${(err as Error).message})`);
  }
  try {
    const pages: string[] = [];
    for (let p = 1; p <= pdf.numPages; p++) {
      if (signal?.aborted) throw new ScanAbortedError();
      const page = await pdf.getPage(p);
      const content = await page.getTextContent();
      let text = "";
      for (const item of content.items as PdfTextItem[]) {
        if (typeof item.str === "string") text += item.str;
        if (item.hasEOL) text += "\n";
      }
      pages.push(text);
    }
    return pages.join("\n");
  } catch (err) {
    if (err instanceof ScanAbortedError) throw err;
    throw new ScanInputError("UNREADABLE_PDF", `${name}: text extraction failed (${(err as Error).message})`);
  } finally {
    await pdf.destroy();
  }
}

async function docxToText(bytes: Uint8Array, name: string): Promise<string> {
  const mammoth = (await import("mammoth")).default;
  try {
    const { value } = await mammoth.extractRawText({ buffer: Buffer.from(bytes) });
    // mammoth separates paragraphs by a blank line; one line per paragraph reads better.
    return value.replace(/\n\n/g, "\n");
  } catch (err) {
    throw new ScanInputError("UNREADABLE_DOCX", `${name}: not a readable DOCX (${(err as Error).message})`);
  }
}

export interface ExtractedText {
  kind: DocumentKind;
  text: string;
}

/** Text of one document; throws ScanInputError for a binary or unreadable one. */
export async function extractText(name: string, bytes: Uint8Array, signal?: AbortSignal): Promise<ExtractedText> {
  const kind = detectKind(name, bytes);
  switch (kind) {
    case "pdf":
      return { kind, text: await pdfToText(bytes, name, signal) };
    case "docx":
      return { kind, text: await docxToText(bytes, name) };
    case "html":
      return { kind, text: htmlToText(decodeText(bytes)) };
    case "binary":
      throw new ScanInputError("UNSUPPORTED_DOCUMENT", `${name}: binary content of an unsupported type`);
    default:
      return { kind, text: decodeText(bytes) };
  }
}
