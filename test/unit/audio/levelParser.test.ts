import t from 'tap'
import { createLevelParser, createLineSplitter, SILENCE_DB } from '../../../actors/audio/levelParser.js'

// Verbatim ffmpeg 5.1 output of the meter's filter chain (ametadata=mode=print).
const SAMPLE = `frame:0    pts:0       pts_time:0
lavfi.astats.Overall.Peak_level=-5.863079
lavfi.astats.Overall.RMS_level=-10.605965
frame:1    pts:1600    pts_time:0.1
lavfi.astats.Overall.Peak_level=-5.885640
lavfi.astats.Overall.RMS_level=-10.842943
frame:8    pts:12800   pts_time:0.8
lavfi.astats.Overall.Peak_level=-40.000000
lavfi.astats.Overall.RMS_level=-43.010300
frame:9    pts:14400   pts_time:0.9
lavfi.astats.Overall.Peak_level=-inf
lavfi.astats.Overall.RMS_level=-inf
`

t.test('parses readings with their stream time', async (t) => {
  const p = createLevelParser()
  const readings = SAMPLE.split('\n').map((l) => p.line(l)).filter((r) => r !== null)
  t.same(readings, [
    { db: -10.61, peakDb: -5.863079, t: 0 },
    { db: -10.84, peakDb: -5.88564, t: 0.1 },
    { db: -43.01, peakDb: -40, t: 0.8 },
    { db: SILENCE_DB, peakDb: SILENCE_DB, t: 0.9 },
  ])
})

t.test('ignores everything else; nan is no reading', async (t) => {
  const p = createLevelParser()
  t.equal(p.line(''), null)
  t.equal(p.line('[aist#0:0/pcm_s16le @ 0x55] Guessed Channel Layout for Input Stream #0.0 : mono'), null)
  t.equal(p.line('lavfi.astats.Overall.Number_of_samples=1600'), null)
  t.equal(p.line('lavfi.astats.Overall.RMS_level=nan'), null)
  t.equal(p.line('lavfi.astats.1.RMS_level=-3.0'), null, 'per-channel keys are not the overall level')
})

t.test('an RMS line without a peak line before it still reads', async (t) => {
  const p = createLevelParser()
  p.line('frame:3 pts:4800 pts_time:0.3')
  t.same(p.line('lavfi.astats.Overall.RMS_level=-20'), { db: -20, peakDb: null, t: 0.3 })
})

t.test('line splitter joins lines across chunks', async (t) => {
  const lines: string[] = []
  const split = createLineSplitter((l) => lines.push(l))
  split('frame:0 pts:0 pts_')
  split('time:0\nlavfi.astats.Overall.RMS_level=-1')
  split('0.5\r\n\n')
  t.same(lines, ['frame:0 pts:0 pts_time:0', 'lavfi.astats.Overall.RMS_level=-10.5'])
})
