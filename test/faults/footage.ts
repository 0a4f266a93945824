/**
 * The fault suite's footage check: after a fault, what the recorder kept on disk must
 * cover the time it says it recorded, except about a second around each fault.
 *
 * "Recorded" is session.json's `preRollMs + durationMs + postRollMs` (the footage it says
 * it holds) minus its `gaps` (the time the recorder
 * itself says it had no stream). "Kept" is the sum of ffprobe'd segment durations
 * (`-reset_timestamps 1`: each segment starts at 0, so durations add up). A fault
 * may cost the fragment being written when it struck (one GOP, 1 s here) — no more.
 *
 * The gap accounting can hide a loss (a gap that opens before the fault counts the
 * lost media as "not recorded"), so a test also passes what was on disk just before
 * the fault (`snapshotSegments`): every one of those files must still be there, the
 * same size or larger, and still play.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Test } from 'tap'
import { ffprobe } from '../helpers/ffprobe.js'
import { processesMentioning } from '../helpers/procs.js'
import { fmt, footageAccountedS, segmentFiles, type ProbedSegment, type SessionFile } from '../integration/pipeline/common.js'

/**
 * The live stream reaches the recorder late and its start is rounded to a keyframe, so
 * a fault-free session already differs from its media by a little: measured 0.33 s
 * (test/integration/recorder: 6.56 s monotonic, 6.23 s of media), so a fault's 1 s plus
 * that would fail an allowance of exactly 1 s per fault. Rounded up to 1 s for two shared
 * cores. Measured on this rig (320x240@15, GOP 1 s, segmentS 2–6, post-roll 0.5 s).
 * Granted once per session, on top of 1 s per fault.
 */
export const LIVE_LATENCY_S = 1

/** Lost per fault: the fragment (one GOP, 1 s) being written when the fault struck. */
export const PER_FAULT_S = 1

export interface SegmentOnDisk {
  file: string
  bytes: number
}

/** The segment files of a session dir and their sizes now: take it just before a fault. */
export async function snapshotSegments(dir: string): Promise<SegmentOnDisk[]> {
  const out: SegmentOnDisk[] = []
  for (const file of await segmentFiles(dir)) out.push({ file, bytes: (await stat(join(dir, file))).size })
  return out
}

export interface FootageOptions {
  dir: string
  session: SessionFile
  /** Every segment of the session, probed (probeSegments). */
  probed: ProbedSegment[]
  /** How many faults struck while recording. */
  faults: number
  /** The segments on disk just before the fault(s) (snapshotSegments). */
  before?: SegmentOnDisk[]
  /** Extra allowance in seconds, with the reason it is needed (printed). */
  extra?: { s: number; why: string }
}

export interface FootageFigures {
  recordedS: number
  gapsS: number
  keptS: number
  lostS: number
  allowedS: number
}

/**
 * Asserts the footage kept covers the recorded time within `faults` × 1 s plus the
 * live-stream latency, and that the segments on disk before the fault survived. Returns
 * the figures (also printed with t.comment).
 */
export async function footageKept(t: Test, o: FootageOptions): Promise<FootageFigures> {
  const { session, probed } = o
  t.ok(session.durationMs !== null && session.durationMs > 0, `session.json has a duration (${session.durationMs} ms)`)
  // Pre-roll + duration + post-roll: the footage the session says it holds (like with like).
  const recordedS = ((session.preRollMs ?? 0) + (session.durationMs ?? 0) + (session.postRollMs ?? 0)) / 1000
  const gapsS = session.gaps.reduce((n, g) => n + g.ms, 0) / 1000
  const keptS = probed.reduce((n, p) => n + (Number.isFinite(p.duration) ? p.duration : 0), 0)
  const expectedS = footageAccountedS(session)
  const lostS = expectedS - keptS
  const allowedS = o.faults * PER_FAULT_S + LIVE_LATENCY_S + (o.extra?.s ?? 0)
  t.comment(
    `footage: recorded ${fmt(recordedS)} s, gaps ${fmt(gapsS)} s (${session.gaps.map((g) => `${g.ms} ms ${g.reason}`).join('; ') || 'none'}), ` +
      `expected ${fmt(expectedS)} s, kept ${fmt(keptS)} s in ${probed.length} segments, lost ${fmt(lostS)} s ` +
      `(allowed ${fmt(allowedS)} s: ${o.faults} fault(s) × ${PER_FAULT_S} s + ${LIVE_LATENCY_S} s live latency${o.extra ? ` + ${o.extra.s} s ${o.extra.why}` : ''})`,
  )
  t.ok(keptS >= expectedS - allowedS, `footage kept ${fmt(keptS)} s >= recorded ${fmt(expectedS)} s − ${fmt(allowedS)} s`)

  // Nothing on disk may be missing from session.json, nor listed there without being on disk.
  const onDisk = await segmentFiles(o.dir)
  t.same(session.segments.map((s) => s.file), onDisk, `session.json lists exactly the ${onDisk.length} segment files on disk`)

  if (o.before) {
    const probedByFile = new Map(probed.map((p) => [p.file, p]))
    for (const b of o.before) {
      let size: number | null = null
      try {
        size = (await stat(join(o.dir, b.file))).size
      } catch {
        size = null
      }
      if (size === null) {
        // A file with no media (ftyp/moov only) is dropped at finalize by design: only a real loss counts.
        t.ok(b.bytes < 2048, `${b.file} (${b.bytes} B before the fault) is gone: only allowed for a header-only file`)
        continue
      }
      t.ok(size >= b.bytes, `${b.file} kept after the fault: ${b.bytes} B before → ${size} B`)
      const p = probedByFile.get(b.file) ?? { file: b.file, ...(await ffprobe(join(o.dir, b.file))) }
      t.ok(p.streams.includes('video') && p.duration > 0, `${b.file} still plays (${p.streams.join(',')}, ${fmt(p.duration)} s)`)
    }
  }
  return { recordedS, gapsS, keptS, lostS, allowedS }
}

/** ffmpeg processes whose command line mentions `needle` (a rig's data dir, a session dir): the orphan check. */
export const ffmpegsMentioning = (needle: string) => processesMentioning(needle, { ffmpegOnly: true })
