/**
 * A scan's name (issue 14, point 1): what people call it in lists and reports, stored on the
 * scan when it starts so it survives a reload. Documents and code: the file name, two names, or
 * the first name and how many more; a database: the connection's name (kept even when the
 * connection is later deleted). Bounded to {@link SCAN_NAME_MAX} characters.
 */
export const SCAN_NAME_MAX = 200;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** The last path segment: code files arrive as relative paths (`src/app/config.ts`). */
const base = (name: string): string => name.split("/").filter(Boolean).pop() ?? name;

export function scanNameFromFiles(names: readonly string[], options: { paths?: boolean } = {}): string | null {
  const shown = names.map((n) => (options.paths ? n : base(n)).trim()).filter(Boolean);
  if (shown.length === 0) return null;
  if (shown.length === 1) return clip(shown[0]!, SCAN_NAME_MAX);
  if (shown.length === 2) {
    const both = `${shown[0]}, ${shown[1]}`;
    if (both.length <= SCAN_NAME_MAX) return both;
  }
  const more = ` + ${shown.length - 1} more`;
  return `${clip(shown[0]!, SCAN_NAME_MAX - more.length)}${more}`;
}

export function scanNameFromConnection(name: string | null | undefined): string | null {
  const n = name?.trim();
  return n ? clip(n, SCAN_NAME_MAX) : null;
}
