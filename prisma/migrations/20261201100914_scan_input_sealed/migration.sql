-- Issue 12 point 6: queued document and code content is sealed at rest, under the key id
-- stored beside it. NULL: content stored in clear by an older release (still read as is).

-- AlterTable
ALTER TABLE "ScanInput" ADD COLUMN "keyId" TEXT;
