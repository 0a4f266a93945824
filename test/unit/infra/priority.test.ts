import t from 'tap'
import { findPriorityTools, PRIORITY_CLASSES, PROCESS_PRIORITY, priorityFor, withPriority } from '../../../infra/priority.js'

const tools = { ionice: '/usr/bin/ionice', nice: '/usr/bin/nice' }

t.test('the table: the recording at normal priority, the rest in the background', async (t) => {
  for (const name of ['camera', 'recorder-ffmpeg', 'prebuffer-ffmpeg']) t.same(priorityFor(name), { nice: 0, ioIdle: false, oomScoreAdj: 0 }, `${name}: normal`)
  for (const name of ['ffmpeg-audio', 'ffmpeg-snapshot', 'media']) t.same(priorityFor(name), { nice: 10, ioIdle: true, oomScoreAdj: 500 }, `${name}: nice 10, I/O idle, oom 500`)
  t.same(priorityFor('something-new'), PRIORITY_CLASSES.recording, 'a name not in the table is never slowed by accident')
  t.equal(Object.keys(PROCESS_PRIORITY).length, 7, 'every process vigil spawns is listed')
})

t.test('withPriority: ionice -t -c 3 nice -n 10 <command>; nothing added for the recording', async (t) => {
  t.same(withPriority('ffmpeg', ['-i', 'x'], priorityFor('camera'), tools), { command: 'ffmpeg', args: ['-i', 'x'], applied: { nice: false, ioIdle: false } })
  t.same(withPriority('ffmpeg', ['-i', 'x'], priorityFor('ffmpeg-audio'), tools), {
    command: '/usr/bin/ionice',
    args: ['-t', '-c', '3', '/usr/bin/nice', '-n', '10', 'ffmpeg', '-i', 'x'],
    applied: { nice: true, ioIdle: true },
  })
})

t.test('degrades when a tool is missing', async (t) => {
  t.same(withPriority('ffmpeg', [], priorityFor('media'), { ionice: null, nice: '/usr/bin/nice' }), { command: '/usr/bin/nice', args: ['-n', '10', 'ffmpeg'], applied: { nice: true, ioIdle: false } }, 'no ionice: nice only')
  t.same(withPriority('ffmpeg', [], priorityFor('media'), { ionice: null, nice: null }), { command: 'ffmpeg', args: [], applied: { nice: false, ioIdle: false } }, 'neither: as before')
  t.same(findPriorityTools(() => false), { ionice: null, nice: null })
  t.same(findPriorityTools((p) => p === '/bin/ionice' || p === '/usr/bin/nice'), { ionice: '/bin/ionice', nice: '/usr/bin/nice' })
})
