/**
 * Document-detection throughput beside baselines run in the same process over the same
 * text: one `indexOf("@")` pass (the floor any scanner pays) and a naive engine (one
 * regex pass per type, no validation). Prints figures and ratios; asserts nothing.
 *
 *   node --import @swc-node/register/esm-register bench/detection.bench.ts [MB] [typical|dense]
 *   node --import tsx bench/detection.bench.ts [MB] [typical|dense]
 *
 * On a shared machine wall-clock figures swing with the load (printed beside them); the
 * "chunked, best of 5" line times each 64 KiB chunk alone and sums the best runs, which
 * is far less sensitive to other processes than one long run.
 */
import { availableParallelism, loadavg } from "node:os";
import { detect } from "../src/modules/detection/index.js";
import { chunkUtf8 } from "../src/modules/scans/scanners/extract-input.js";
import { createDetectionPool } from "../src/modules/scans/scanners/detection-pool.js";
import { generateCorpus } from "../test/unit/detection/corpus.js";

const targetMB = Number(process.argv[2] ?? 16);

/** Ordinary prose between findings: words, dates, amounts, section numbers, hyphens. */
const PROSE = [
  "De gemeente heeft op 12 maart 2024 besloten het beleid voor de komende jaren aan te passen.",
  "In paragraaf 3.2 van het rapport staat een overzicht van de kosten, in totaal € 1.250,00 per jaar.",
  "The committee reviewed the quarterly figures and agreed to follow up in the next meeting.",
  "Wij verwerken persoonsgegevens alleen voor het doel waarvoor ze zijn verzameld - zie artikel 5.",
  "Please note: the office is closed on 25 and 26 December; urgent questions go to the service desk.",
  "Het project loopt van 2023 tot 2026 en kent drie fasen, met een evaluatie na elke fase.",
  "Customers in the pilot group (n = 240) rated the new process 4.2 out of 5 on average.",
  "Zie ook hoofdstuk 7 voor de risicoanalyse en de maatregelen die daaruit volgen.",
];

/**
 * dense: the labelled corpus as is (a value or decoy on nearly every line, ~1 per 100 B).
 * typical: the same lines with ~20 lines of ordinary prose after each (~1 per 2 KB).
 */
function buildText(kind: "dense" | "typical"): string {
  const parts: string[] = [];
  let size = 0;
  let k = 0;
  for (let seed = 1; size < targetMB * 1e6; seed++) {
    for (const line of generateCorpus(seed, 150).text.split("\n")) {
      parts.push(line);
      size += line.length + 1;
      if (kind === "typical") {
        for (let i = 0; i < 20; i++) {
          const p = PROSE[k++ % PROSE.length]!;
          parts.push(p);
          size += p.length + 1;
        }
      }
      if (size >= targetMB * 1e6) break;
    }
  }
  // One flat string, as a decoded file would be.
  return Buffer.from(parts.join("\n"), "utf8").toString("utf8");
}

function time<T>(fn: () => T, runs = 3): { ms: number; result: T } {
  let best = Infinity;
  let result!: T;
  fn(); // warm-up
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = fn();
    best = Math.min(best, performance.now() - t);
  }
  return { ms: best, result };
}

function baseline(text: string): number {
  let n = 0;
  for (let i = text.indexOf("@"); i !== -1; i = text.indexOf("@", i + 1)) n++;
  return n;
}

const NAIVE: RegExp[] = [
  /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g,
  /(?:\+|00)?\d[\d\s().-]{7,16}\d/g,
  /\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b/g,
  /\b(?:\d[ -]?){12,18}\d\b/g,
  /\b\d{4}\.?\d{2}\.?\d{3}\b|\b\d{3}[ .]?\d{3}[ .]?\d{3}\b/g,
  /\b(?:\d{1,3}\.){3}\d{1,3}\b/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/g,
  /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g,
  /\b(?:sk_live_|ghp_|github_pat_|xox[bp]-|AIza|glpat-|sk-)[A-Za-z0-9_-]{16,}/g,
  /(?:password|passwd|pwd|wachtwoord)\s*[:=]\s*\S+/gi,
];
function naive(text: string): number {
  let n = 0;
  for (const re of NAIVE) {
    re.lastIndex = 0;
    while (re.exec(text)) n++;
  }
  return n;
}

async function run(kind: "dense" | "typical"): Promise<void> {
  const text = buildText(kind);
  const mb = text.length / 1e6;
  const rate = (ms: number): number => mb / (ms / 1000);
  const loader = process.execArgv.join(" ").match(/tsx|swc-node/)?.[0] ?? "plain node (compiled)";
  console.log(`\n[${kind}] ${mb.toFixed(1)} MB of generated Dutch/English prose, code and config with planted PII and decoys`);

  const base = time(() => baseline(text), 5);
  const nv = time(() => naive(text));
  const single = time(() => detect(text, { hashKey: "bench" }), 3);
  // The pipeline's chunks: 64 KiB of UTF-8 ending at a line end (extract-input.ts).
  const utf8 = Buffer.from(text, "utf8");
  const cuts = chunkUtf8(utf8, 64 * 1024);
  const chunks: Array<{ text: string }> = [];
  for (let i = 0; i < cuts.length; i += 3) chunks.push({ text: utf8.subarray(cuts[i]!, cuts[i + 1]!).toString("utf8") });
  // Per chunk: best of 5 for the engine and for the baseline, summed.
  let chunkedMs = 0;
  let chunkedBaseMs = 0;
  for (const c of chunks) {
    let e = Infinity;
    let bl = Infinity;
    for (let r = 0; r < 5; r++) {
      let t = performance.now();
      detect(c.text, { hashKey: "bench" });
      e = Math.min(e, performance.now() - t);
      t = performance.now();
      baseline(c.text);
      bl = Math.min(bl, performance.now() - t);
    }
    chunkedMs += e;
    chunkedBaseMs += bl;
  }
  const threads = availableParallelism();
  const pool = createDetectionPool({ threads });
  // Warm the workers (module load, JIT).
  await Promise.all(chunks.slice(0, threads * 2).map((c) => pool.detect(c.text, { hashKey: "bench" })));
  let poolMs = Infinity;
  let poolCount = 0;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    const res = await Promise.all(chunks.map((c) => pool.detect(c.text, { hashKey: "bench" })));
    poolMs = Math.min(poolMs, performance.now() - t);
    poolCount = res.reduce((n, d) => n + d.length, 0);
  }
  await pool.close();

  console.log(`runtime: ${loader}; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} on ${availableParallelism()} cores`);
  const b = rate(base.ms);
  const row = (name: string, ms: number, extra = ""): string =>
    `${name.padEnd(34)} ${rate(ms).toFixed(1).padStart(9)} MB/s   ${(rate(ms) / b).toFixed(4).padStart(7)} × baseline   1/${(b / rate(ms)).toFixed(1)}${extra}`;
  console.log(row("baseline indexOf('@') pass", base.ms, `   (${base.result} '@')`));
  console.log(row("naive: one regex per type", nv.ms, `   (${nv.result} raw matches)`));
  console.log(row("engine, 1 thread", single.ms, `   (${single.result.length} detections)`));
  console.log(row("engine, 1 thread, chunked best of 5", chunkedMs, `   (vs chunked baseline 1/${(chunkedMs / chunkedBaseMs).toFixed(1)})`));
  console.log(row(`engine, pool of ${threads} threads`, poolMs, `   (${poolCount} detections, ${chunks.length} chunks)`));
  console.log(`engine 1 thread vs naive: ${(rate(single.ms) / rate(nv.ms)).toFixed(2)}×; target ≥ 1/8 of baseline = ${(b / 8).toFixed(0)} MB/s`);
}

for (const kind of (process.argv[3] ? [process.argv[3]] : ["typical", "dense"]) as ("dense" | "typical")[]) await run(kind);
