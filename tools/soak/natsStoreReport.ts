/** The "nats-server under a rig's writes" section of docs/BENCHMARKS.md, from one `vigil soak --nats-store` result. */
import type { NatsStoreResult } from './natsStore.js'
import { writeDocSection } from './report.js'
import { NATS_CEILING_MB } from './trend.js'

export const NATS_STORE_START = '<!-- soak:nats-store:start -->'
export const NATS_STORE_END = '<!-- soak:nats-store:end -->'

const f1 = (n: number) => n.toFixed(1)

export function natsStoreSection(r: NatsStoreResult, resultFile: string): string {
  const lines: string[] = [NATS_STORE_START, "## nats-server under a rig's writes (`npm run soak -- --nats-store`)", '']
  lines.push(
    `\`npm run soak -- --nats-store --seconds ${r.seconds} --rate ${r.rate}\` (${resultFile}), started ${r.startedAt}, ${r.env.cpus} CPUs, load ${r.env.loadavg.map((x) => x.toFixed(2)).join(' ')}: ` +
      `a nats-server (the repo's nats.conf, JetStream) with vigil's streams and the vigil_rigs bucket, written the way a rig writes them, ${r.rate} rounds a second ` +
      '(a ~1 KB vigil_rigs put and a state message each round, an alert and an event with a `Nats-Msg-Id` every 10th) — a rig writes a few a minute, so this is hours of a rig in minutes. ' +
      'RSS every 2 s; each variant its own server, one after the other.',
    '',
    '| server | write rounds | RSS at start | highest, first half | highest, second half | at the end | highest RssAnon | CPU |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const v of r.variants)
    lines.push(`| ${v.label} | ${v.rounds} | ${f1(v.startRssMb)} MB | ${f1(v.maxFirstHalfMb)} MB | ${f1(v.maxSecondHalfMb)} MB | ${f1(v.endRssMb)} MB | ${f1(v.maxAnonMb)} MB | ${f1(v.cpuS)} s |`)
  const base = r.variants[0]
  const lim = r.variants[1]
  const level = base ? base.maxSecondHalfMb <= base.maxFirstHalfMb * 1.1 : false
  lines.push(
    '',
    "What it shows: nats-server 2.9's file store keeps the block it writes to (up to 8 MB) in memory, and a stream that keeps one message per subject " +
      '(the rig\'s state, its vigil_rigs entry) loads that block again on every write to remove the previous message. Its RSS climbs as those blocks fill and drops when a new block starts: ' +
      (level
        ? 'a sawtooth: here its top in the second half of the run is no higher than in the first. '
        : `**here the second half's top (${f1(base?.maxSecondHalfMb ?? 0)} MB) is over the first's (${f1(base?.maxFirstHalfMb ?? 0)} MB): no level top shown by this run.** `) +
      "At a rig's pace one tooth takes hours, so an hour of the soak sees mostly its rising edge; " +
      `so the soak holds the nats-server to a ceiling of ${NATS_CEILING_MB} MB (the top here${base ? `, ${f1(base.maxRssMb)} MB,` : ''} with room for the GC's timing) instead of a slope.`,
    '',
    lim
      ? `A soft memory limit (\`${Object.entries(lim.env).map(([k, x]) => `${k}=${x}`).join(' ')}\`) lowers the top to ${f1(lim.maxRssMb)} MB but costs ${f1(lim.cpuS)} s of CPU instead of ${f1(base!.cpuS)} s: ` +
          'the live block is near the limit, so the collector runs again and again. vigil does not set one; `GOMEMLIMIT` in vigil\'s environment reaches the nats-server (docs/OPERATIONS.md).'
      : '',
    NATS_STORE_END,
  )
  return lines.join('\n')
}

export async function writeNatsStoreDocs(r: NatsStoreResult, resultFile: string, docPath: string): Promise<void> {
  await writeDocSection(docPath, NATS_STORE_START, NATS_STORE_END, natsStoreSection(r, resultFile))
}
