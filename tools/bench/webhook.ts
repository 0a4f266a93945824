/**
 * Webhook latency: a sound burst → the webhook POST at a local receiver, over N sound events
 * (DESIGN.md §9.2; the target: under 1 s). One real rig (real nats-server, the
 * default children, audio from the synthetic source: a 1 s burst every 4 s) and a real
 * node:http receiver in this process, so both ends read one clock.
 *
 *   npx tsx tools/bench/webhook.ts [--events 20]      # prints JSON; also `npm run bench -- --only webhook`
 *
 * Two figures per event: from the sound event being published (the rig's decision that this
 * was a sound, `publishEvent`) to the POST's body fully received; and from the burst's start
 * (the event's `at`, wall clock) to the same, which adds audio.minMs and the meter's window.
 */
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { startNatsServer } from '../../test/helpers/natsServer.js'
import { startWebhookReceiver } from '../../test/helpers/webhookReceiver.js'
import { startBenchRig, waitFor } from './harness.js'

export interface WebhookBenchResult {
  events: number
  /** publishEvent('sound') → POST received, ms. */
  fromEvent: { p50: number; max: number; samples: number[] }
  /** burst start (event `at` − `durationMs`) → POST received, ms. */
  fromBurst: { p50: number; max: number; samples: number[] }
  lost: number
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const r1 = (x: number) => Math.round(x * 10) / 10

export async function webhookLatency(natsUrl: string, opts: { events: number; log(line: string): void }): Promise<WebhookBenchResult> {
  const receiver = await startWebhookReceiver()
  const rig = await startBenchRig('benchhook', natsUrl, { width: 320, height: 240, fps: 15 }, (c) => {
    c.audio.source = 'testsrc'
    // One event per 1 s burst (bursts are 4 s apart).
    c.audio.cooldownMs = 1000
    c.notify.webhooks = [{ url: receiver.url('/hook'), events: ['event.sound'], secret: 'bench-webhook-secret-0123456789', format: 'json' }]
  })
  const published = new Map<string, number>()
  const sub = rig.rig.feed.subscribe((item) => {
    if (item.type === 'event' && item.kind === 'sound') published.set(String(item.payload['id']), performance.now())
  })
  const arrived = new Map<string, { mono: number; wall: number; burstAt: number }>()
  receiver.onPost((p) => {
    const body = receiver.json(p)
    if (body['kind'] === 'event.sound') arrived.set(String(body['id']), { mono: p.at, wall: Date.now(), burstAt: Date.parse(String(body['at'])) - Number(body['durationMs'] ?? 0) })
  })
  try {
    // Bursts every 4 s: N events take about 4·N s after the audio meter is up.
    await waitFor(() => arrived.size >= opts.events + 1, (opts.events + 5) * 4000 + 60000, `${opts.events} sound webhooks`, 100)
  } finally {
    sub.unsubscribe()
    await rig.stop()
    await receiver.down()
  }
  // The first event is a warm-up (connection set-up, JIT).
  const ids = [...arrived.keys()].slice(1, opts.events + 1)
  const fromEvent = ids.map((id) => arrived.get(id)!.mono - (published.get(id) ?? NaN)).filter(Number.isFinite)
  const fromBurst = ids.map((id) => arrived.get(id)!.wall - arrived.get(id)!.burstAt).filter(Number.isFinite)
  opts.log(`  webhook: ${ids.length} sound events; publish → POST p50 ${r1(p50(fromEvent))} ms, max ${r1(Math.max(...fromEvent))} ms; burst start → POST p50 ${r1(p50(fromBurst))} ms, max ${r1(Math.max(...fromBurst))} ms`)
  return {
    events: ids.length,
    fromEvent: { p50: r1(p50(fromEvent)), max: r1(Math.max(...fromEvent)), samples: fromEvent.map(r1) },
    fromBurst: { p50: r1(p50(fromBurst)), max: r1(Math.max(...fromBurst)), samples: fromBurst.map(r1) },
    // Sound events published up to the last one counted that never reached the receiver.
    lost: [...published.entries()].filter(([id, at]) => at <= (published.get(ids.at(-1) ?? '') ?? -Infinity) && !arrived.has(id)).length,
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--events')
  const events = i > 0 ? Number(process.argv[i + 1]) : 20
  const nats = await startNatsServer()
  try {
    const result = await webhookLatency(nats.url, { events, log: (l) => process.stderr.write(`${l}\n`) })
    const env = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', at: new Date().toISOString() }
    process.stdout.write(`${JSON.stringify({ env, webhook: result }, null, 2)}\n`)
  } finally {
    await nats.stop()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main()
