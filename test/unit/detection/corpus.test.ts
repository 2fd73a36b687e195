import { describe, expect, it } from "vitest";
import { detect, FINDING_TYPES, type Detection, type FindingType } from "../../../src/modules/detection/index.js";
import { generateCorpus, type Corpus } from "./corpus.js";

interface Score {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
}

/** Matches detections to planted values by (type, line); each planted value counts once. */
export function score(corpus: Corpus, detections: Detection[]): Record<FindingType, Score> {
  const out = {} as Record<FindingType, Score>;
  for (const t of FINDING_TYPES) {
    const truth = new Map<number, number>();
    for (const p of corpus.planted) if (p.type === t) truth.set(p.line, (truth.get(p.line) ?? 0) + 1);
    let tp = 0;
    let fp = 0;
    for (const d of detections) {
      if (d.type !== t) continue;
      const left = truth.get(d.line) ?? 0;
      if (left > 0) {
        tp++;
        truth.set(d.line, left - 1);
      } else fp++;
    }
    let fn = 0;
    for (const n of truth.values()) fn += n;
    out[t] = { tp, fp, fn, precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: tp + fn === 0 ? 1 : tp / (tp + fn) };
  }
  return out;
}

describe("labelled generated corpus", () => {
  for (const seed of [1, 20240611, 777]) {
    it(`precision and recall per type >= 0.97 (seed ${seed})`, () => {
      const corpus = generateCorpus(seed, 150);
      const found = detect(corpus.text, { hashKey: "corpus" });
      const s = score(corpus, found);
      const table = Object.entries(s).map(([t, v]) => `${t.padEnd(15)} P=${v.precision.toFixed(3)} R=${v.recall.toFixed(3)} tp=${v.tp} fp=${v.fp} fn=${v.fn}`);
      if (process.env.CORPUS_REPORT) console.log(table.join("\n"));
      for (const [t, v] of Object.entries(s)) {
        expect.soft(v.precision, `${t} precision`).toBeGreaterThanOrEqual(0.97);
        expect.soft(v.recall, `${t} recall`).toBeGreaterThanOrEqual(0.97);
      }
      // The corpus really holds every type and decoys.
      for (const t of FINDING_TYPES) expect(corpus.planted.some((p) => p.type === t)).toBe(true);
      expect(corpus.decoyLines).toBeGreaterThan(200);
    });
  }

  it("a corpus of decoys only yields (almost) nothing", () => {
    const corpus = generateCorpus(99, 150);
    const decoyText = corpus.text
      .split("\n")
      .filter((_, i) => !corpus.planted.some((p) => p.line === i + 1))
      .join("\n");
    // Private-key bodies span several lines; drop their remains too.
    const clean = decoyText.replace(/^[A-Za-z0-9+/]{64}$/gm, "").replace(/^-----END.*$/gm, "");
    const found = detect(clean, { hashKey: "k" });
    expect(found.length / corpus.decoyLines).toBeLessThan(0.01);
  });
});
