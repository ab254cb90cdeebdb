/** Median and spread of repeated measurements. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function stats(xs: number[]): Stats {
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, runs: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], runs: s.length };
}
