import { describe, expect, it } from "vitest";
import { AppError } from "../../../src/shared/errors.js";
import {
  CODE_PATH_MAX,
  DOCUMENT_NAME_MAX,
  codeFilePath,
  documentName,
  normaliseCodePath,
  normaliseDocumentName,
  type CodePathProblem,
  type DocumentNameProblem,
} from "../../../src/modules/scans/input-names.js";

/** Issue 12, point 5: code-scan names are relative paths, normalised (NFKC), never disguised. */

describe("normaliseCodePath accepts relative paths", () => {
  it.each([
    ["src/app.js", "src/app.js"],
    ["app.py", "app.py"],
    ["  src/app.js  ", "src/app.js"],
    ["./src/./app.js", "src/app.js"],
    ["src/.env", "src/.env"],
    ["src/...config.js", "src/...config.js"],
    ["a..b/c.js", "a..b/c.js"],
    ["src/a:b.js", "src/a:b.js"],
    ["docs/Zoë's notes.md", "docs/Zoë's notes.md"],
    ["src/用户.ts", "src/用户.ts"],
    ["ｓｒｃ/ａｐｐ.ｊｓ", "src/app.js"], // fullwidth letters fold to ASCII
    ["src／app.js", "src/app.js"], // fullwidth solidus is a separator after NFKC
    ["ﬁle.js", "file.js"], // ligature
    ["x".repeat(CODE_PATH_MAX), "x".repeat(CODE_PATH_MAX)],
  ])("%j → %j", (raw, path) => {
    expect(normaliseCodePath(raw)).toEqual({ path });
  });
});

describe("normaliseCodePath refuses what is not a relative file name", () => {
  it.each<[string, CodePathProblem]>([
    ["", "empty"],
    ["   ", "empty"],
    [".", "empty"],
    ["./", "empty-segment"],
    ["x".repeat(CODE_PATH_MAX + 1), "too-long"],
    ["x".repeat(CODE_PATH_MAX * 4 + 1), "too-long"],
    // absolute, drive, UNC, URL
    ["/etc/passwd", "absolute"],
    ["//server/share/x.js", "absolute"],
    ["C:/Windows/x.js", "url-or-drive"],
    ["c:x.js", "url-or-drive"],
    ["file:///etc/passwd", "url-or-drive"],
    ["https://example.com/x.js", "url-or-drive"],
    ["git+ssh://host/repo.js", "url-or-drive"],
    // backslashes: Windows paths, UNC, and their fullwidth and small forms
    ["\\etc\\passwd", "backslash"],
    ["\\\\server\\share\\x.js", "backslash"],
    ["src\\app.js", "backslash"],
    ["C:\\x.js", "backslash"],
    ["src＼app.js", "backslash"],
    ["src﹨app.js", "backslash"],
    ["src∖app.js", "lookalike-separator"],
    ["src∕..∕x.js", "lookalike-separator"],
    ["src⁄x.js", "lookalike-separator"],
    // parent segments, plain and after NFKC
    ["../x.js", "parent-segment"],
    ["src/../../x.js", "parent-segment"],
    ["src/..", "parent-segment"],
    ["．．/x.js", "parent-segment"],
    ["．．／x.js", "parent-segment"],
    ["‥/x.js", "parent-segment"],
    ["src/…/x.js", "parent-segment"],
    ["src/.. /x.js", "parent-segment"],
    ["／etc/passwd", "absolute"],
    // empty folder names
    ["src//app.js", "empty-segment"],
    ["src/", "empty-segment"],
    ["src/ /app.js", "empty-segment"],
    // control, bidi and invisible characters
    ["a/\u202E/sj.exe", "control-character"],
    ["a\u202Egnp.js", "control-character"],
    ["a\u2066b.js", "control-character"],
    ["a\u200Bb.js", "control-character"],
    ["a\u200Db.js", "control-character"],
    ["\uFEFFapp.js", "control-character"],
    ["app\u0000.js", "control-character"],
    ["app\n.js", "control-character"],
    ["app\t.js", "control-character"],
    ["app\u007F.js", "control-character"],
    ["app\u0085.js", "control-character"],
    ["app\u2028.js", "control-character"],
    ["app\uD800.js", "control-character"],
    ["app\uE000.js", "control-character"],
  ])("%j is refused (%s)", (raw, problem) => {
    expect(normaliseCodePath(raw)).toEqual({ problem });
  });

  it("refuses non-strings", () => {
    expect(normaliseCodePath(null)).toEqual({ problem: "empty" });
    expect(normaliseCodePath(undefined)).toEqual({ problem: "empty" });
  });
});

describe("codeFilePath", () => {
  it("returns the normalised path", () => {
    expect(codeFilePath("./ｓｒｃ/app.js", "files[0]")).toBe("src/app.js");
  });

  it("answers BAD_USER_INPUT naming the file's index, without echoing the name", () => {
    const error = (() => {
      try {
        codeFilePath("．．/secret-name.js", "files[3]");
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("BAD_USER_INPUT");
    expect((error as AppError).extensions).toMatchObject({ field: "files[3].name" });
    expect((error as AppError).message).toMatch(/^files\[3\]\.name /);
    expect((error as AppError).message).not.toContain("secret-name");
  });

  it("is linear: a 2,000-character hostile name is judged in well under a millisecond each", () => {
    const names = ["．".repeat(2000), "a/".repeat(1000), "\u202E".repeat(2000), "x".repeat(1999) + "\\"];
    for (const name of names) expect("problem" in normaliseCodePath(name)).toBe(true);
  });
});

/** Document names are display names: normalised, bounded, never disguised, never shown as a path. */
describe("normaliseDocumentName", () => {
  it.each([
    ["report.pdf", "report.pdf"],
    ["  Contract 2024.docx  ", "Contract 2024.docx"],
    ["Zoë's notes.txt", "Zoë's notes.txt"],
    ["客户名单.txt", "客户名单.txt"],
    ["ｒｅｐｏｒｔ.pdf", "report.pdf"], // fullwidth folds to ASCII
    ["ﬁnal.txt", "final.txt"], // ligature
    ["a:b.txt", "a:b.txt"],
    ["..", ".."], // a name, not a path: harmless once shown as one
    // path separators are shown as "_", never raw: no name reads as a path
    ["reports/2024/q1.txt", "reports_2024_q1.txt"],
    ["../../etc/passwd", ".._.._etc_passwd"],
    ["/etc/passwd", "_etc_passwd"],
    ["C:\\Users\\x.txt", "C:_Users_x.txt"],
    ["\\\\server\\share\\x.txt", "_server_share_x.txt"],
    ["a//b.txt", "a_b.txt"],
    ["．．／secret.txt", ".._secret.txt"], // fullwidth, after NFKC
    ["a＼b.txt", "a_b.txt"],
    ["a∕b⁄c∖d.txt", "a_b_c_d.txt"], // lookalikes that survive NFKC
    ["x".repeat(DOCUMENT_NAME_MAX), "x".repeat(DOCUMENT_NAME_MAX)],
    ["😀".repeat(DOCUMENT_NAME_MAX), "😀".repeat(DOCUMENT_NAME_MAX)], // characters, not UTF-16 units
  ])("%j → %j", (raw, name) => {
    expect(normaliseDocumentName(raw)).toEqual({ name });
  });

  it.each<[string, DocumentNameProblem]>([
    ["", "empty"],
    ["   ", "empty"],
    ["\u3000", "empty"], // ideographic space: NFKC makes it a space
    ["x".repeat(DOCUMENT_NAME_MAX + 1), "too-long"],
    ["x".repeat(DOCUMENT_NAME_MAX * 8 + 1), "too-long"],
    ["ﬃ".repeat(DOCUMENT_NAME_MAX), "too-long"], // three characters each after NFKC
    ["invoice\u202Efdp.exe", "control-character"], // right-to-left override
    ["a\u2066b.txt", "control-character"],
    ["a\u200Bb.txt", "control-character"],
    ["\uFEFFa.txt", "control-character"],
    ["a\u0000.txt", "control-character"],
    ["a\n.txt", "control-character"],
    ["a\t.txt", "control-character"],
    ["a\u0085.txt", "control-character"],
    ["a\u2028.txt", "control-character"],
    ["a\uD800.txt", "control-character"],
    ["a\uE000.txt", "control-character"],
  ])("%j is refused (%s)", (raw, problem) => {
    expect(normaliseDocumentName(raw)).toEqual({ problem });
  });

  it("refuses non-strings", () => {
    expect(normaliseDocumentName(null)).toEqual({ problem: "empty" });
    expect(normaliseDocumentName(undefined)).toEqual({ problem: "empty" });
  });
});

describe("documentName", () => {
  it("returns the display name", () => {
    expect(documentName(" ｄｏｃｓ/q1.txt ", "documents[0]")).toBe("docs_q1.txt");
  });

  it.each([
    ["invoice\u202Efdp.exe", /^documents\[2\]\.name must not contain control, bidi or invisible characters$/],
    ["x".repeat(DOCUMENT_NAME_MAX + 1), /^documents\[2\]\.name must be at most 255 characters$/],
    [" ", /^documents\[2\]\.name must not be empty$/],
  ])("answers BAD_USER_INPUT naming the document's field, as code paths do, without echoing the name (%#)", (raw, message) => {
    const error = (() => {
      try {
        documentName(raw, "documents[2]");
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("BAD_USER_INPUT");
    expect((error as AppError).extensions).toMatchObject({ field: "documents[2].name", reason: "INVALID_FILE_NAME" });
    expect((error as AppError).message).toMatch(message);
    expect((error as AppError).message).not.toContain("invoice");
  });
});
