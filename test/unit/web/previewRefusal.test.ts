import t from 'tap'
import { previewRefusal } from '../../../actors/web/routes/liveVideo.js'
import type { PreviewStatus } from '../../../infra/preview.js'

const at = (level: PreviewStatus['level'], reason: string): PreviewStatus => ({ level, reason, since: '2025-01-01T00:00:00.000Z' })

t.test('full: the video and the still are served', async (t) => {
  t.equal(previewRefusal('video', at('full', 'resource level NORMAL')), null)
  t.equal(previewRefusal('still', at('full', 'resource level NORMAL')), null)
})

t.test('low: the video is refused (stills only, that is where the CPU comes from), the still is served', async (t) => {
  const msg = previewRefusal('video', at('low', 'resource level DEGRADE (cpu 75 %)'))
  t.equal(msg, 'live video is reduced to one still per second (/live/still.jpg): the rig is at resource level DEGRADE (cpu 75 %); this does not affect the recording')
  t.equal(previewRefusal('still', at('low', 'resource level DEGRADE (cpu 75 %)')), null)
})

t.test('off: both refused, saying why and that the recording is not touched', async (t) => {
  const reason = 'resource level CRITICAL (cpu 91 %)'
  const video = previewRefusal('video', at('off', reason))
  t.equal(video, 'live video is off: the rig is at resource level CRITICAL (cpu 91 %); this does not affect the recording')
  t.equal(previewRefusal('still', at('off', reason)), video)
})
