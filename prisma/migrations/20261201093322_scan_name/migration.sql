-- Issue 14, point 1: a scan keeps the name people know it by (file names or the connection's
-- name), set when it starts. Additive and nullable: scans from before keep NULL and are shown
-- as "<kind> scan".

-- AlterTable
ALTER TABLE "Scan" ADD COLUMN "name" TEXT;
