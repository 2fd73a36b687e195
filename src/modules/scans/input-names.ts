import { AppError } from "../../shared/errors.js";

/**
 * Names are names (issue 12, point 5): a code file's name is a relative path inside the
 * uploaded tree, returned to the user as `location.source`, so it must not be a way to point
 * elsewhere (absolute, drive, UNC, URL) or to disguise itself (bidi overrides, control and
 * invisible characters, lookalike separators).
 *
 * The name is normalised with NFKC first and every check runs on the normalised text, so a
 * fullwidth `．．／` or a `‥` (two-dot leader) counts as `../`. What is stored and shown is
 * the normalised name, with `.` segments dropped.
 */

/** Longest code path accepted, in UTF-16 units after normalisation. */
export const CODE_PATH_MAX = 500;

/**
 * Control (C0, DEL, C1), format (bidi embeddings, overrides and isolates, zero-width
 * characters, BOM), surrogate, private-use and unassigned code points, line and paragraph
 * separators: none of them belongs in a file name, all of them can make one read as another.
 */
const INVISIBLE_OR_CONTROL = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

/**
 * Characters that draw as a slash or a backslash but survive NFKC: a name holding them would
 * show as a path it is not. (The fullwidth and small forms normalise to `/` and `\` and are
 * caught as those.)
 */
const LOOKALIKE_SEPARATORS = /[\u2044\u2215\u29F8\u2216\u29F5\u29F9]/u;

const PRINTABLE_ASCII = /^[\x20-\x7E]*$/;

/** `scheme:` at the start: URLs (`file:`, `http:`) and, with one letter, Windows drives (`C:`). */
const SCHEME_OR_DRIVE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

export type CodePathProblem =
  | "empty"
  | "too-long"
  | "control-character"
  | "backslash"
  | "lookalike-separator"
  | "absolute"
  | "url-or-drive"
  | "empty-segment"
  | "parent-segment";

const MESSAGES: Record<CodePathProblem, string> = {
  empty: "must not be empty",
  "too-long": `must be at most ${CODE_PATH_MAX} characters`,
  "control-character": "must not contain control, bidi or invisible characters",
  backslash: "must use / between folders, not \\ (Windows and UNC paths are not accepted)",
  "lookalike-separator": "must not contain characters that look like / or \\",
  absolute: "must be a relative path (no leading /)",
  "url-or-drive": "must be a relative path, not a URL or a drive letter",
  "empty-segment": "must not contain empty folder names (// or a trailing /)",
  "parent-segment": 'must not contain ".." (or other folder names made only of dots and spaces)',
};

/**
 * The normalised relative path, or the first problem. Pure and linear in the name's length.
 */
export function normaliseCodePath(raw: string | null | undefined): { path: string } | { problem: CodePathProblem } {
  if (typeof raw !== "string") return { problem: "empty" };
  // Bound the work before normalising: NFKC can expand a character into up to 18.
  if (raw.length > CODE_PATH_MAX * 4) return { problem: "too-long" };
  // Printable ASCII (most paths) is its own NFKC form and holds none of the characters below:
  // the Unicode checks cost ~10x the rest, so they run only when needed.
  const ascii = PRINTABLE_ASCII.test(raw);
  // Checked before NFKC too: normalisation may drop or merge some of them.
  if (!ascii && INVISIBLE_OR_CONTROL.test(raw)) return { problem: "control-character" };
  const name = (ascii ? raw : raw.normalize("NFKC")).trim();
  if (name.length === 0) return { problem: "empty" };
  if (name.length > CODE_PATH_MAX) return { problem: "too-long" };
  if (!ascii && INVISIBLE_OR_CONTROL.test(name)) return { problem: "control-character" };
  if (name.includes("\\")) return { problem: "backslash" };
  if (!ascii && LOOKALIKE_SEPARATORS.test(name)) return { problem: "lookalike-separator" };
  if (name.startsWith("/")) return { problem: "absolute" };
  if (SCHEME_OR_DRIVE.test(name)) return { problem: "url-or-drive" };
  const segments: string[] = [];
  const parts = name.split("/");
  for (const segment of parts) {
    if (segment === ".") continue;
    // A trailing "/" names a folder, "a//b" or "a/ /b" hides an empty name: neither is a file.
    if (segment.trim() === "") return { problem: "empty-segment" };
    // Windows drops trailing dots and spaces, so "... " and ".. " mean ".." there.
    if (/^[. ]+$/.test(segment)) return { problem: "parent-segment" };
    segments.push(segment);
  }
  if (segments.length === 0) return { problem: "empty" };
  return { path: segments.join("/") };
}

/**
 * The normalised path of the file at `at` (for example `files[3]`), or BAD_USER_INPUT naming
 * that file (`extensions.field` = `files[3].name`). Never echoes the name.
 */
export function codeFilePath(raw: string | null | undefined, at: string): string {
  const result = normaliseCodePath(raw);
  if ("path" in result) return result.path;
  throw new AppError("BAD_USER_INPUT", `${at}.name ${MESSAGES[result.problem]}`, { field: `${at}.name`, reason: "INVALID_FILE_NAME" });
}

/** Longest document name accepted, in characters (code points) after normalisation: a file name's usual bound. */
export const DOCUMENT_NAME_MAX = 255;

/** `/`, `\` and what draws like them, in runs: shown as one `_` in a document's name. */
const SEPARATORS = /[/\\\u2044\u2215\u29F8\u2216\u29F5\u29F9]+/gu;

export type DocumentNameProblem = "empty" | "too-long" | "control-character";

const DOCUMENT_MESSAGES: Record<DocumentNameProblem, string> = {
  empty: "must not be empty",
  "too-long": `must be at most ${DOCUMENT_NAME_MAX} characters`,
  "control-character": MESSAGES["control-character"],
};

/**
 * A document's name is a display name, not a path: it is shown to the user (`location.source`,
 * reports, skip reasons) and names nothing on any disk. It is normalised with NFKC like a code
 * path and refused for the same control, bidi and invisible characters, bounded in length, and
 * its path separators (`/`, `\` and their lookalikes, after NFKC) are shown as `_`, so that
 * no name reads as a path (`../../etc/passwd` is kept as `.._.._etc_passwd`). Pure and linear.
 */
export function normaliseDocumentName(raw: string | null | undefined): { name: string } | { problem: DocumentNameProblem } {
  if (typeof raw !== "string") return { problem: "empty" };
  // Bound the work before normalising (NFKC can expand a character into up to 18 units).
  if (raw.length > DOCUMENT_NAME_MAX * 8) return { problem: "too-long" };
  const ascii = PRINTABLE_ASCII.test(raw);
  if (!ascii && INVISIBLE_OR_CONTROL.test(raw)) return { problem: "control-character" };
  const normal = ascii ? raw : raw.normalize("NFKC");
  if (!ascii && INVISIBLE_OR_CONTROL.test(normal)) return { problem: "control-character" };
  const name = normal.replace(SEPARATORS, "_").trim();
  if (name.length === 0) return { problem: "empty" };
  if (name.length > DOCUMENT_NAME_MAX && [...name].length > DOCUMENT_NAME_MAX) return { problem: "too-long" };
  return { name };
}

/**
 * The display name of the document at `at` (for example `documents[3]`), or BAD_USER_INPUT
 * naming that document's field (`extensions.field` = `documents[3].name`), as
 * {@link codeFilePath} does. Never echoes the name.
 */
export function documentName(raw: string | null | undefined, at: string): string {
  const result = normaliseDocumentName(raw);
  if ("name" in result) return result.name;
  throw new AppError("BAD_USER_INPUT", `${at}.name ${DOCUMENT_MESSAGES[result.problem]}`, { field: `${at}.name`, reason: "INVALID_FILE_NAME" });
}
