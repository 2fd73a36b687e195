import { expect } from "vitest";
import type { GraphQLResponse } from "./graphql-client.js";

/**
 * What a scan start must get while the capacity level is CRITICAL: refused with
 * `CAPACITY_EXCEEDED`, or admitted as QUEUED and left waiting (API.md: "while the capacity
 * monitor says CRITICAL, new scans wait in the queue too"; issue 10 moves the veto from the
 * first to the second). Either way the scan must not run: a queued one is read back until
 * `windowMs` has passed (a few capacity samples: a negative observation needs a window) and
 * must still be QUEUED every time. Returns the queued scan's id, or null when refused.
 */
export async function expectHeldBack(
  res: GraphQLResponse<{ startDocumentScan: { id: string; status: string } }>,
  statusOf: (id: string) => Promise<string | undefined>,
  windowMs: number,
): Promise<string | null> {
  if (res.errors) {
    expect(res.errors[0]?.extensions?.code, JSON.stringify(res.errors)).toBe("CAPACITY_EXCEEDED");
    expect(res.data ?? null).toBeNull();
    return null;
  }
  const scan = res.data!.startDocumentScan;
  expect(scan.status).toBe("QUEUED");
  const until = Date.now() + windowMs;
  do {
    expect(await statusOf(scan.id), "a scan ran while capacity was CRITICAL").toBe("QUEUED");
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < until);
  expect(await statusOf(scan.id), "a scan ran while capacity was CRITICAL").toBe("QUEUED");
  return scan.id;
}
