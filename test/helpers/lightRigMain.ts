/**
 * A light rig (no subsystem children: router, bus, JetStream keeper and fleet presence
 * real) as a process of its own, so a test can SIGKILL it: a crash, with no goodbye.
 * Its env is an env file's values plus VIGIL_DATA_DIR (and VIGIL_CONFIG if the test wants
 * other settings). Logs JSON lines to stdout; SIGTERM is an orderly stop (exit 0).
 */
import { pino } from 'pino'
import { loadConfig } from '../../infra/config/load.js'
import { startRig } from '../../actors/rig/index.js'

const dataDir = process.env['VIGIL_DATA_DIR']!
const config = loadConfig({ env: { ...process.env, VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' }, cwd: dataDir })
const log = pino({ level: 'info' })
const rig = await startRig({ config, log, children: () => [] })
process.on('SIGTERM', () => rig.requestShutdown('SIGTERM'))
process.exit(await rig.exited)
