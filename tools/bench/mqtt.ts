import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRig } from '../../actors/rig/index.js'
import { loadConfig } from '../../infra/config/load.js'
import { silentLogger } from '../../infra/logger.js'
import { ProcessOwner } from '../../infra/process.js'
import { mqttTopics } from '../../infra/mqtt/topics.js'
import { disownPid, ownDir, ownPid, waitFor } from './harness.js'
import { dist } from './suite.js'

/**
 * Sound burst → MQTT message: a rig with its embedded nats-server (MQTT listener on a free
 * port) and the synthetic audio (a 1 s noise burst every 4 s); a real `mosquitto_sub` on
 * `vigil/<node>/event/sound` stamps each message as it reads it. The burst began
 * `durationMs` before the event's `at` (the level was above the threshold that long, then
 * the event fired): burst → MQTT = receipt − (at − durationMs); event → MQTT = receipt − at.
 * Same machine, same clock.
 */
export async function mqttLatency(o: { events: number; log: (line: string) => void }): Promise<Record<string, unknown>> {
  const node = 'benchmqtt'
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-bench-mqtt-'))
  ownDir(dataDir)
  const config = loadConfig({
    env: { VIGIL_DATA_DIR: dataDir, VIGIL_NODE: node, VIGIL_NATS_PORT: '0', VIGIL_MQTT_PORT: '0', VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' },
    cwd: dataDir,
  })
  config.camera.width = 320
  config.camera.height = 240
  config.audio.source = 'testsrc'
  // One event per burst (4 s apart): the default 5 s cooldown would skip every other one.
  config.audio.cooldownMs = 1000
  const processes = new ProcessOwner()
  const rig = await startRig({ config, log: silentLogger(), processes })
  const received: Array<{ at: number; payload: string }> = []
  let sub: ReturnType<typeof spawn> | undefined
  try {
    await waitFor(() => rig.supervisor.children().find((c) => c.id === 'nats')?.state === 'running', 30_000, 'embedded nats-server running')
    sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(rig.ports.mqtt), '-t', mqttTopics.event(node, 'sound'), '-q', '0'], { stdio: ['ignore', 'pipe', 'ignore'] })
    ownPid(sub.pid)
    let buffered = ''
    sub.stdout!.setEncoding('utf8')
    sub.stdout!.on('data', (chunk: string) => {
      const now = Date.now()
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) if (line.trim()) received.push({ at: now, payload: line })
    })
    o.log(`  mqtt: rig up (MQTT on ${rig.ports.mqtt}), waiting for ${o.events} sound events (one per 4 s burst)`)
    await waitFor(() => received.length >= o.events + 1, (o.events + 5) * 4000 + 30_000, `${o.events} sound events over MQTT`, 100)
  } finally {
    if (sub?.pid) {
      sub.kill('SIGTERM')
      disownPid(sub.pid)
    }
    rig.requestShutdown('bench done')
    await rig.exited
    processes.killAll()
    await rm(dataDir, { recursive: true, force: true })
  }
  // The first event may come from a burst under way while the meter started: left out.
  const samples = received.slice(1, o.events + 1).map((r) => {
    const e = JSON.parse(r.payload) as { at: string; durationMs: number }
    const at = Date.parse(e.at)
    return { burst: r.at - (at - e.durationMs), event: r.at - at }
  })
  const burst = dist(samples.map((s) => s.burst))
  const event = dist(samples.map((s) => s.event))
  o.log(`  mqtt: burst → MQTT p50 ${burst.p50} ms, max ${burst.max} ms; event → MQTT p50 ${event.p50} ms, max ${event.max} ms (n=${burst.n})`)
  return { burstToMqttMs: burst, eventToMqttMs: event, minMs: config.audio.minMs, samples }
}
