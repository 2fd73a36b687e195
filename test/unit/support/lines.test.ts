import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { onLines } from "../../support/lines.js";

describe("onLines", () => {
  it.each([
    ["one chunk, two lines", ["a\nb\n"], ["a", "b"]],
    ["a line split across chunks", ["he", "llo\nwor", "ld\n"], ["hello", "world"]],
    ["an unfinished last line waits", ["a\nb"], ["a"]],
    ["empty lines are lines", ["\n\nx\n"], ["", "", "x"]],
    ["a multibyte character split across chunks", [Buffer.from("é\n").subarray(0, 1), Buffer.from("é\n").subarray(1)], ["é"]],
  ])("%s", (_name, chunks, expected) => {
    const stream = new PassThrough();
    const seen: string[] = [];
    onLines(stream, (line) => seen.push(line));
    for (const c of chunks) stream.write(c);
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(seen).toEqual(expected);
        resolve();
      }),
    );
  });
});
