-- Issue 10.6: each instance stores the level it judged for itself and the metrics it holds at
-- CRITICAL, so peers without shared pub/sub hold new scans on them too. Additive: older rows read
-- as level NULL and no critical metrics.

-- AlterTable
ALTER TABLE "CapacitySample" ADD COLUMN     "criticalMetrics" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "level" TEXT;
