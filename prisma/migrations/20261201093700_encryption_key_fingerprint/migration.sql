-- Issue 12, point 9: fingerprints of the at-rest encryption keys (never the keys), so start-up
-- can refuse an ENCRYPTION_KEY that cannot read what is stored. Additive: a new table only.
-- CreateTable
CREATE TABLE "EncryptionKeyFingerprint" (
    "keyId" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "EncryptionKeyFingerprint_pkey" PRIMARY KEY ("keyId")
);
