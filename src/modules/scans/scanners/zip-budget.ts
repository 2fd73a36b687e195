/**
 * A byte budget for zip archives (DOCX), checked before anything inflates them for real:
 * mammoth (through JSZip) inflates every part it reads with no bound, so a 400 KB DOCX can
 * become gigabytes of XML (issue 10). Here every entry's declared size is summed first,
 * then each entry is inflated with `maxOutputLength` so the actual bytes are counted too
 * (a declared size can lie). Pure and synchronous: runs in a scan worker thread.
 */
import { inflateRawSync } from "node:zlib";
import { formatBytes } from "../../../shared/text.js";
import { ScanInputError } from "./scanner.types.js";

/** Entries one archive may hold. @default 10000 */
export const MAX_ZIP_ENTRIES = 10_000;

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;

export interface ZipBudgetResult {
  entries: number;
  /** Sum of the entries' inflated sizes, as counted. */
  inflatedBytes: number;
}

/** Thrown for an archive over its budget (`code` TOO_LARGE) or not a readable zip (`UNREADABLE`). */
function tooLarge(name: string, budget: number, what: string): ScanInputError {
  return new ScanInputError(
    "TOO_LARGE",
    `${name}: ${what} more than ${formatBytes(budget)} when unpacked, 4 times the largest file accepted; not scanned`,
  );
}

function unreadable(name: string, why: string): ScanInputError {
  return new ScanInputError("UNREADABLE", `${name}: not a readable DOCX (${why})`);
}

/**
 * Checks that the zip in `bytes` inflates to at most `budget` bytes in all, by its central
 * directory's declared sizes and by actually inflating each entry under a cap. Throws a
 * ScanInputError (TOO_LARGE or UNREADABLE) otherwise. Time and memory are linear in
 * `bytes.length + budget`.
 */
export function checkZipBudget(bytes: Uint8Array, budget: number, name = "archive"): ZipBudgetResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // End of central directory: within the last 22 + 65535 bytes (the comment may follow it).
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw unreadable(name, "no zip directory");
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff) throw tooLarge(name, budget, "a ZIP64 archive, which may hold");
  if (count > MAX_ZIP_ENTRIES) throw tooLarge(name, budget, `${count} entries, which may hold`);
  if (cdOffset + cdSize > bytes.length) throw unreadable(name, "truncated zip directory");

  interface Entry {
    method: number;
    compressed: number;
    declared: number;
    local: number;
  }
  const entries: Entry[] = [];
  let declaredTotal = 0;
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== CEN_SIG) throw unreadable(name, "bad zip directory entry");
    const method = view.getUint16(p + 10, true);
    const compressed = view.getUint32(p + 20, true);
    const declared = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    if (compressed === 0xffffffff || declared === 0xffffffff || local === 0xffffffff) {
      throw tooLarge(name, budget, "a ZIP64 entry, which may hold");
    }
    declaredTotal += declared;
    if (declaredTotal > budget) throw tooLarge(name, budget, "declares");
    entries.push({ method, compressed, declared, local });
    p += 46 + nameLen + extraLen + commentLen;
  }

  // Declared sizes can lie: inflate each entry with a cap of what is left of the budget.
  let actual = 0;
  for (const e of entries) {
    if (e.local + 30 > bytes.length || view.getUint32(e.local, true) !== LOC_SIG) throw unreadable(name, "bad zip entry header");
    const start = e.local + 30 + view.getUint16(e.local + 26, true) + view.getUint16(e.local + 28, true);
    const end = start + e.compressed;
    if (end > bytes.length) throw unreadable(name, "truncated zip entry");
    const left = budget - actual;
    if (e.method === 0) {
      actual += e.compressed;
    } else if (e.method === 8) {
      try {
        // +1 so that "exactly the budget" passes and one byte more fails.
        actual += inflateRawSync(bytes.subarray(start, end), { maxOutputLength: Math.max(1, left + 1) }).length;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) throw tooLarge(name, budget, "inflates to");
        throw unreadable(name, "corrupt compressed data");
      }
    } else {
      throw unreadable(name, `unsupported compression method ${e.method}`);
    }
    if (actual > budget) throw tooLarge(name, budget, "inflates to");
  }
  return { entries: entries.length, inflatedBytes: actual };
}
