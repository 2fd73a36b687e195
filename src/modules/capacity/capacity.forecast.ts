/**
 * Trend forecasts by least squares: pure functions, no I/O (test/unit/capacity/forecast.test.ts).
 */

export interface Point {
  /** milliseconds since the epoch */
  t: number;
  value: number;
}

export interface LinearFit {
  /** change of the value per second */
  slopePerSecond: number;
  /** value at `t = origin` */
  intercept: number;
  /** the time the intercept refers to (the first point's), for numeric stability */
  origin: number;
  /** coefficient of determination, 0..1 (1 when every point lies on the line) */
  r2: number;
  n: number;
}

/** Ordinary least squares of value over time; null with fewer than 2 points or no time spread. */
export function linearFit(points: readonly Point[]): LinearFit | null {
  const n = points.length;
  if (n < 2) return null;
  const origin = points[0]!.t;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += (p.t - origin) / 1000;
    sy += p.value;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of points) {
    const dx = (p.t - origin) / 1000 - mx;
    const dy = p.value - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slopePerSecond: slope, intercept: my - slope * mx, origin, r2, n };
}

export interface ForecastOptions {
  /** Fewest points for a forecast. @default 6 */
  minPoints?: number;
  /** Shortest time span the points must cover, in ms. @default 120_000 */
  minSpanMs?: number;
  /** A fit explaining less of the variance than this is noise, not a trend. @default 0.3 */
  minR2?: number;
}

export interface Forecast {
  /** the fitted value now */
  current: number;
  limit: number;
  slopePerMinute: number;
  /** seconds until the fitted line reaches `limit`; 0 when already there; null when not rising (or no trend) */
  secondsUntilLimit: number | null;
  r2: number;
}

/**
 * When will the trend reach `limit`? Fits the points, evaluates the line at `now`, and
 * extrapolates. Null when there is too little data to say anything.
 */
export function forecastLimit(points: readonly Point[], limit: number, now: number, options: ForecastOptions = {}): Forecast | null {
  const minPoints = options.minPoints ?? 6;
  const minSpan = options.minSpanMs ?? 120_000;
  const minR2 = options.minR2 ?? 0.3;
  if (points.length < minPoints) return null;
  const span = points[points.length - 1]!.t - points[0]!.t;
  if (span < minSpan) return null;
  const fit = linearFit(points);
  if (!fit) return null;
  const current = fit.intercept + fit.slopePerSecond * ((now - fit.origin) / 1000);
  const base = { current, limit, slopePerMinute: fit.slopePerSecond * 60, r2: fit.r2 };
  if (current >= limit) return { ...base, secondsUntilLimit: 0 };
  if (fit.slopePerSecond <= 0 || fit.r2 < minR2) return { ...base, secondsUntilLimit: null };
  return { ...base, secondsUntilLimit: (limit - current) / fit.slopePerSecond };
}
