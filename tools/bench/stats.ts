/** A sample's spread, as every benchmark reports it (ms or s, as given). */
export interface Dist {
  n: number
  p50: number
  p90: number
  p99: number
  min: number
  max: number
  mean: number
}

export function dist(samples: number[]): Dist {
  const s = [...samples].sort((a, b) => a - b)
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0
  const r = (n: number) => Math.round(n * 1000) / 1000
  return { n: s.length, p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), min: r(s[0] ?? 0), max: r(s.at(-1) ?? 0), mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) }
}
