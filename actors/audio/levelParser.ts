/**
 * Parses ametadata's print output (see ffmpegArgs.ts) into levels. Pure and
 * incremental: feed it lines in order; a `frame:` line sets the window's time, the
 * RMS line completes a reading.
 */

/** ffmpeg prints `-inf` for digital silence; JSON has no -Infinity, so silence is this floor. */
export const SILENCE_DB = -120

export interface LevelReading {
  /** RMS level of the window, dBFS (SILENCE_DB for silence). */
  db: number
  /** Peak level of the window, dBFS, when printed before the RMS line. */
  peakDb: number | null
  /** Window start, stream seconds. */
  t: number
}

const FRAME = /^frame:\s*\d+\s+pts:\s*\S+\s+pts_time:\s*(\S+)/
const KEY = /^lavfi\.astats\.Overall\.(RMS_level|Peak_level)=(\S+)$/

function toDb(text: string): number | null {
  if (/^-inf$/i.test(text)) return SILENCE_DB
  const v = Number(text)
  if (!Number.isFinite(v)) return null
  return Math.max(SILENCE_DB, v)
}

export interface LevelParser {
  /** One line of output; a reading when the line completes one. */
  line(line: string): LevelReading | null
}

export function createLevelParser(): LevelParser {
  let t = 0
  let peak: number | null = null
  return {
    line(raw) {
      const line = raw.trim()
      const frame = FRAME.exec(line)
      if (frame) {
        const time = Number(frame[1])
        if (Number.isFinite(time)) t = time
        peak = null
        return null
      }
      const kv = KEY.exec(line)
      if (!kv) return null
      const db = toDb(kv[2]!)
      if (db === null) return null
      if (kv[1] === 'Peak_level') {
        peak = db
        return null
      }
      return { db: Math.round(db * 100) / 100, peakDb: peak, t }
    },
  }
}

/** Splits a byte stream into lines across chunk boundaries. */
export function createLineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let pending = ''
  return (chunk) => {
    pending += chunk
    const lines = pending.split(/\r?\n/)
    pending = lines.pop() ?? ''
    // A runaway line without a newline is not ametadata output; do not let it grow.
    if (pending.length > 64 * 1024) pending = ''
    for (const l of lines) if (l.length > 0) onLine(l)
  }
}
