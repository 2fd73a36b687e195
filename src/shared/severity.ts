/** One severity scale, lowest first: findings (detection) and capacity recommendations use it alike. */
export const SEVERITY_LEVELS = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
export type SeverityLevel = (typeof SEVERITY_LEVELS)[number];

const RANK: Record<SeverityLevel, number> = { LOW: 0, MEDIUM: 1, HIGH: 2, CRITICAL: 3 };

/** 0 for LOW up to 3 for CRITICAL: compare two severities by their ranks. */
export function severityRank(severity: SeverityLevel): number {
  return RANK[severity];
}
