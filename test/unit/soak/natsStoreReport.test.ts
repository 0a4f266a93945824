import t from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { natsStoreSection, NATS_STORE_END, NATS_STORE_START, writeNatsStoreDocs } from '../../../tools/soak/natsStoreReport.js'
import type { NatsStoreResult, NatsStoreVariant } from '../../../tools/soak/natsStore.js'

const variant = (label: string, env: Record<string, string>, first: number, second: number, cpuS: number): NatsStoreVariant => ({
  label,
  env,
  rounds: 24000,
  rssMb: [12, first, second],
  startRssMb: 12,
  maxRssMb: Math.max(first, second),
  maxFirstHalfMb: first,
  maxSecondHalfMb: second,
  endRssMb: 20,
  maxAnonMb: 30,
  cpuS,
  streams: {},
})
const result = (first: number, second: number): NatsStoreResult => ({
  kind: 'nats-store',
  startedAt: '2026-12-03T16:00:00.000Z',
  seconds: 240,
  rate: 100,
  env: { node: 'v20', cpus: 2, loadavg: [0.1, 0.2, 0.3] },
  variants: [variant('as vigil runs it', {}, first, second, 9), variant('GOMEMLIMIT=16MiB', { GOMEMLIMIT: '16MiB' }, 20, 21, 55)],
})

t.test('the section states the figures and whether the tops were level', async (t) => {
  const level = natsStoreSection(result(44, 43), 'bench/results/x.json')
  t.match(level, /\| as vigil runs it \| 24000 \| 12\.0 MB \| 44\.0 MB \| 43\.0 MB \|/)
  t.match(level, /no higher than in the first/)
  t.match(level, /GOMEMLIMIT=16MiB.* lowers the top to 21\.0 MB but costs 55\.0 s of CPU instead of 9\.0 s/)
  const rising = natsStoreSection(result(30, 44), 'bench/results/x.json')
  t.match(rising, /no level top shown by this run/)
  t.notMatch(rising, /no higher than in the first/)
})

t.test('the docs section is replaced between its markers, the rest kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-natsstore-doc-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const doc = join(dir, 'B.md')
  await writeFile(doc, `# before\n\n${NATS_STORE_START}\nold\n${NATS_STORE_END}\n\n# after\n`)
  await writeNatsStoreDocs(result(44, 43), 'r.json', doc)
  const text = await readFile(doc, 'utf8')
  t.ok(text.startsWith('# before\n'))
  t.ok(text.trimEnd().endsWith('# after'))
  t.notMatch(text, /\nold\n/)
  t.equal(text.split(NATS_STORE_START).length, 2, 'one section')
})
