-- CreateEnum
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');

-- CreateEnum
CREATE TYPE "ScanKind" AS ENUM ('DOCUMENT', 'DATABASE', 'CODE');

-- CreateEnum
CREATE TYPE "ScanStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "Severity" AS ENUM ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL');

-- CreateEnum
CREATE TYPE "FindingType" AS ENUM ('EMAIL', 'PHONE_NUMBER', 'IBAN', 'CREDIT_CARD', 'BSN', 'IP_ADDRESS', 'AWS_ACCESS_KEY', 'PRIVATE_KEY', 'JWT', 'API_KEY', 'PASSWORD');

-- CreateEnum
CREATE TYPE "DatabaseEngine" AS ENUM ('POSTGRESQL', 'MYSQL');

-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Session" (
    "id" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastActiveAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Scan" (
    "id" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "sessionId" UUID NOT NULL,
    "kind" "ScanKind" NOT NULL,
    "status" "ScanStatus" NOT NULL DEFAULT 'QUEUED',
    "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "stage" TEXT,
    "itemsProcessed" INTEGER NOT NULL DEFAULT 0,
    "itemsTotal" INTEGER,
    "findingsCount" INTEGER NOT NULL DEFAULT 0,
    "riskLevel" "Severity",
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "options" JSONB,
    "connectionId" UUID,
    "seq" INTEGER NOT NULL DEFAULT 0,
    "workerId" TEXT,
    "heartbeatAt" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Scan_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScanInput" (
    "id" UUID NOT NULL,
    "scanId" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "ordinal" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "content" BYTEA NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScanInput_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Finding" (
    "id" UUID NOT NULL,
    "scanId" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "ordinal" INTEGER NOT NULL,
    "type" "FindingType" NOT NULL,
    "severity" "Severity" NOT NULL,
    "confidence" DOUBLE PRECISION NOT NULL,
    "maskedValue" TEXT NOT NULL,
    "occurrences" INTEGER NOT NULL DEFAULT 1,
    "matchRatio" DOUBLE PRECISION,
    "source" TEXT NOT NULL,
    "line" INTEGER,
    "table" TEXT,
    "column" TEXT,
    "valueHash" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Finding_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DatabaseConnection" (
    "id" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "sessionId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "engine" "DatabaseEngine" NOT NULL,
    "host" TEXT NOT NULL,
    "port" INTEGER NOT NULL,
    "database" TEXT NOT NULL,
    "user" TEXT NOT NULL,
    "ssl" BOOLEAN NOT NULL DEFAULT false,
    "passwordCiphertext" BYTEA NOT NULL,
    "keyId" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DatabaseConnection_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PaymentRecord" (
    "id" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "sessionId" UUID NOT NULL,
    "provider" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "amountCents" INTEGER NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "status" TEXT NOT NULL,
    "description" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PaymentRecord_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Instance" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "hostname" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeatAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Instance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CapacitySample" (
    "id" BIGSERIAL NOT NULL,
    "instanceId" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "cpu" DOUBLE PRECISION NOT NULL,
    "processCpu" DOUBLE PRECISION NOT NULL,
    "memoryUsed" DOUBLE PRECISION NOT NULL,
    "rssBytes" BIGINT NOT NULL,
    "eventLoopDelayMs" DOUBLE PRECISION NOT NULL,
    "poolSize" INTEGER NOT NULL,
    "poolInUse" INTEGER NOT NULL,
    "poolIdle" INTEGER NOT NULL,
    "poolWaiting" INTEGER NOT NULL,
    "wsClients" INTEGER NOT NULL,
    "subscriptions" INTEGER NOT NULL,
    "runningScans" INTEGER NOT NULL,
    "queuedScans" INTEGER NOT NULL,
    "activeUsers" INTEGER NOT NULL,

    CONSTRAINT "CapacitySample_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CleanupRun" (
    "id" BIGSERIAL NOT NULL,
    "instanceId" TEXT NOT NULL,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),
    "sessionsDeleted" INTEGER NOT NULL DEFAULT 0,
    "scansDeleted" INTEGER NOT NULL DEFAULT 0,
    "findingsDeleted" INTEGER NOT NULL DEFAULT 0,
    "inputsDeleted" INTEGER NOT NULL DEFAULT 0,
    "connectionsDeleted" INTEGER NOT NULL DEFAULT 0,
    "paymentsDeleted" INTEGER NOT NULL DEFAULT 0,
    "scansCancelled" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "CleanupRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "User_lastSeenAt_idx" ON "User"("lastSeenAt");

-- CreateIndex
CREATE INDEX "Session_ownerId_createdAt_id_idx" ON "Session"("ownerId", "createdAt" DESC, "id");

-- CreateIndex
CREATE INDEX "Session_expiresAt_idx" ON "Session"("expiresAt");

-- CreateIndex
CREATE INDEX "Scan_ownerId_createdAt_id_idx" ON "Scan"("ownerId", "createdAt" DESC, "id");

-- CreateIndex
CREATE INDEX "Scan_sessionId_createdAt_id_idx" ON "Scan"("sessionId", "createdAt" DESC, "id");

-- CreateIndex
CREATE INDEX "Scan_ownerId_status_idx" ON "Scan"("ownerId", "status");

-- CreateIndex
CREATE INDEX "Scan_status_createdAt_id_idx" ON "Scan"("status", "createdAt", "id");

-- CreateIndex
CREATE INDEX "Scan_connectionId_idx" ON "Scan"("connectionId");

-- CreateIndex
CREATE UNIQUE INDEX "ScanInput_scanId_ordinal_key" ON "ScanInput"("scanId", "ordinal");

-- CreateIndex
CREATE UNIQUE INDEX "Finding_scanId_ordinal_key" ON "Finding"("scanId", "ordinal");

-- CreateIndex
CREATE INDEX "DatabaseConnection_sessionId_createdAt_idx" ON "DatabaseConnection"("sessionId", "createdAt");

-- CreateIndex
CREATE INDEX "DatabaseConnection_ownerId_idx" ON "DatabaseConnection"("ownerId");

-- CreateIndex
CREATE INDEX "PaymentRecord_sessionId_createdAt_idx" ON "PaymentRecord"("sessionId", "createdAt");

-- CreateIndex
CREATE INDEX "PaymentRecord_ownerId_idx" ON "PaymentRecord"("ownerId");

-- CreateIndex
CREATE INDEX "Instance_heartbeatAt_idx" ON "Instance"("heartbeatAt");

-- CreateIndex
CREATE INDEX "CapacitySample_at_idx" ON "CapacitySample"("at");

-- CreateIndex
CREATE INDEX "CapacitySample_instanceId_at_idx" ON "CapacitySample"("instanceId", "at");

-- CreateIndex
CREATE INDEX "CleanupRun_startedAt_idx" ON "CleanupRun"("startedAt");

-- AddForeignKey
ALTER TABLE "Session" ADD CONSTRAINT "Session_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Scan" ADD CONSTRAINT "Scan_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Scan" ADD CONSTRAINT "Scan_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "Session"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Scan" ADD CONSTRAINT "Scan_connectionId_fkey" FOREIGN KEY ("connectionId") REFERENCES "DatabaseConnection"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScanInput" ADD CONSTRAINT "ScanInput_scanId_fkey" FOREIGN KEY ("scanId") REFERENCES "Scan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Finding" ADD CONSTRAINT "Finding_scanId_fkey" FOREIGN KEY ("scanId") REFERENCES "Scan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DatabaseConnection" ADD CONSTRAINT "DatabaseConnection_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DatabaseConnection" ADD CONSTRAINT "DatabaseConnection_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "Session"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PaymentRecord" ADD CONSTRAINT "PaymentRecord_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PaymentRecord" ADD CONSTRAINT "PaymentRecord_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "Session"("id") ON DELETE CASCADE ON UPDATE CASCADE;

