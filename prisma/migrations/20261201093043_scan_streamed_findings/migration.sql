-- Issue 10: findings stream to PostgreSQL in batches while a scan runs.
-- Additive: two Scan columns with defaults, and a unique key that batched inserts merge on.

-- AlterTable
ALTER TABLE "Scan" ADD COLUMN "findingsNotStored" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "skipped" JSONB;

-- Findings written before this migration may repeat a value on one line of one document (a
-- line longer than one detection chunk): merge them first, summing occurrences, so the key holds.
WITH d AS (
  SELECT id,
         sum(occurrences) OVER (PARTITION BY "scanId", source, line, "valueHash") AS occ,
         row_number() OVER (PARTITION BY "scanId", source, line, "valueHash" ORDER BY ordinal) AS rn
  FROM "Finding" WHERE line IS NOT NULL AND "valueHash" IS NOT NULL
)
UPDATE "Finding" f SET occurrences = d.occ FROM d WHERE f.id = d.id AND d.rn = 1 AND d.occ <> f.occurrences;

WITH d AS (
  SELECT id, row_number() OVER (PARTITION BY "scanId", source, line, "valueHash" ORDER BY ordinal) AS rn
  FROM "Finding" WHERE line IS NOT NULL AND "valueHash" IS NOT NULL
)
DELETE FROM "Finding" f USING d WHERE f.id = d.id AND d.rn > 1;

-- CreateIndex (partial: database findings carry no line and keep one row per column and type)
CREATE UNIQUE INDEX "Finding_scanId_source_line_valueHash_key" ON "Finding"("scanId", "source", "line", "valueHash")
WHERE "line" IS NOT NULL AND "valueHash" IS NOT NULL;
