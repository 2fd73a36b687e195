import type { Readable } from "node:stream";

/**
 * Calls `onLine` with each complete line a child process prints on `stream` (UTF-8, without
 * the newline), in order. Shared by the test server launcher and the benches.
 */
export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let start = 0;
    let i: number;
    while ((i = buf.indexOf("\n", start)) >= 0) {
      onLine(buf.slice(start, i));
      start = i + 1;
    }
    buf = buf.slice(start);
  });
}
