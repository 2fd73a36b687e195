import { describe, expect, it } from "vitest";
import { bodyTooLarge, fileTooLarge, scanTooLarge, tooManyFiles } from "../../../src/modules/scans/upload-messages.js";

const MB = 1024 * 1024;
const SETTING = /\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/;

describe("upload refusals", () => {
  it.each([
    [tooManyFiles(1200, 1000), "A scan takes at most 1000 files; this one has 1200. Scan them in parts."],
    [fileTooLarge("big2.txt", 11 * MB, 10 * MB), '"big2.txt" is 11 MB; each file may be at most 10 MB.'],
    [scanTooLarge(7, 12.5 * MB, 12 * MB), "These 7 files are more than 12 MB together (13 MB so far); one scan may hold at most 12 MB. Scan them in parts."],
    [bodyTooLarge(16777216), "The upload is larger than 16 MB, the most one request may carry (PDF and DOCX grow by a third on the way). Send fewer or smaller files."],
    [bodyTooLarge(undefined), "The upload is larger than one request may carry. Send fewer or smaller files."],
  ])("%s", (message, expected) => {
    expect(message).toBe(expected);
    expect(message).not.toMatch(SETTING);
  });

  it("clips very long names", () => {
    expect(fileTooLarge("x".repeat(500), 11 * MB, 10 * MB).length).toBeLessThan(140);
  });
});
