import { expect } from "vitest";
import { DatabaseScanError } from "../../src/modules/scans/scanners/database.scanner.js";

/**
 * Seed values for the database-scanner tests, computed here independently of the engine's
 * validators (the tests must not share an oracle with the code they check).
 */

/** 9-digit numbers that pass (or fail) the BSN 11-check. */
export function bsns(valid: boolean, count: number): string[] {
  const out: string[] = [];
  for (let n = 111_111_111; out.length < count; n += 7_919) {
    const d = String(n);
    let sum = 0;
    for (let i = 0; i < 8; i++) sum += Number(d[i]) * (9 - i);
    sum -= Number(d[8]);
    if ((sum % 11 === 0) === valid) out.push(d);
  }
  return out;
}

/** The first number from `n` on that fails the Luhn check (a card-shaped decoy). */
export function luhnInvalid(n: bigint): string {
  for (;; n++) {
    const d = String(n);
    let sum = 0;
    for (let i = 0; i < d.length; i++) {
      let x = Number(d[d.length - 1 - i]);
      if (i % 2 === 1) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
      sum += x;
    }
    if (sum % 10 !== 0) return d;
  }
}

/** Awaits a scan expected to fail and checks its error code. */
export async function expectScanError(promise: Promise<unknown>, code: string): Promise<DatabaseScanError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatabaseScanError);
  expect((error as DatabaseScanError).code).toBe(code);
  return error as DatabaseScanError;
}
