/**
 * Upload refusals as people read them (issue 14, point 2): the file by name, sizes in MB, the
 * limit, and what to do. Never a setting's name: the setting goes in `extensions.limit` for
 * programs and in the server log for operators.
 */

/** "10 MB", "1.5 MB", "512 KB", "12 bytes" (1 MB = 1024 × 1024 bytes, as limits are set). */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) {
    const mb = Math.round((bytes / (1024 * 1024)) * 10) / 10;
    return `${mb >= 10 || Number.isInteger(mb) ? Math.round(mb) : mb.toFixed(1)} MB`;
  }
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

const quoted = (name: string) => `"${name.length > 80 ? `${name.slice(0, 79)}…` : name}"`;

export function tooManyFiles(count: number, max: number): string {
  return `A scan takes at most ${max} files; this one has ${count}. Scan them in parts.`;
}

export function fileTooLarge(name: string, size: number, max: number): string {
  return `${quoted(name)} is ${formatSize(size)}; each file may be at most ${formatSize(max)}.`;
}

export function scanTooLarge(count: number, total: number, max: number): string {
  return `These ${count} files are more than ${formatSize(max)} together (${formatSize(total)} so far); one scan may hold at most ${formatSize(max)}. Scan them in parts.`;
}

export function bodyTooLarge(max: number | undefined): string {
  return max
    ? `The upload is larger than ${formatSize(max)}, the most one request may carry (PDF and DOCX grow by a third on the way). Send fewer or smaller files.`
    : "The upload is larger than one request may carry. Send fewer or smaller files.";
}
