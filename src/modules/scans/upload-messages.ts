/**
 * Upload refusals as people read them (issue 14, point 2): the file by name, sizes in MB, the
 * limit, and what to do. Never a setting's name: the setting goes in `extensions.limit` for
 * programs and in the server log for operators.
 */
import { formatBytes } from "../../shared/text.js";

const quoted = (name: string) => `"${name.length > 80 ? `${name.slice(0, 79)}…` : name}"`;

export function tooManyFiles(count: number, max: number): string {
  return `A scan takes at most ${max} files; this one has ${count}. Scan them in parts.`;
}

export function fileTooLarge(name: string, size: number, max: number): string {
  return `${quoted(name)} is ${formatBytes(size)}; each file may be at most ${formatBytes(max)}.`;
}

export function scanTooLarge(count: number, total: number, max: number): string {
  return `These ${count} files are more than ${formatBytes(max)} together (${formatBytes(total)} so far); one scan may hold at most ${formatBytes(max)}. Scan them in parts.`;
}

export function bodyTooLarge(max: number | undefined): string {
  return max
    ? `The upload is larger than ${formatBytes(max)}, the most one request may carry (PDF and DOCX grow by a third on the way). Send fewer or smaller files.`
    : "The upload is larger than one request may carry. Send fewer or smaller files.";
}
