import t from 'tap'
import { run, type ServiceIo } from '../../../tools/cli/service.js'
import { renderUnit, stateDirectoryName, unitPathProblem, unitWarnings } from '../../../tools/cli/serviceUnit.js'

const base = { nodePath: '/usr/bin/node', vigilBin: '/opt/vigil/bin/vigil.js', dataDir: '/srv/vigil', shutdownTimeoutMs: 15000, startTimeoutMs: 20000 }
const keys = (unit: string) => unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l))

t.test('a Type=notify unit with watchdog, restart, stop timeout above shutdown.timeoutMs, hardening', async (t) => {
  const unit = renderUnit({ ...base, configFile: '/etc/vigil/vigil.config.json', user: 'vigil' })
  const lines = keys(unit)
  for (const line of [
    'Type=notify',
    'NotifyAccess=all',
    'ExecStart=/usr/bin/node /opt/vigil/bin/vigil.js start --config /etc/vigil/vigil.config.json',
    'WorkingDirectory=/srv/vigil',
    'Environment=VIGIL_DATA_DIR=/srv/vigil',
    'User=vigil',
    'SupplementaryGroups=video audio',
    'WatchdogSec=30s',
    'Restart=always',
    'RestartSec=5s',
    'TimeoutStopSec=25s',
    'KillMode=mixed',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ReadWritePaths=/srv/vigil',
    'PrivateTmp=yes',
    'ProtectHome=yes',
    'ProtectKernelTunables=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'DevicePolicy=closed',
    'DeviceAllow=char-video4linux rw',
    'WantedBy=multi-user.target',
  ]) t.ok(lines.includes(line), line)
  t.notOk(lines.some((l) => l.startsWith('MemoryDenyWriteExecute=') || l.startsWith('PrivateDevices=')), 'nothing that breaks V8 or hides cameras')
  t.ok(lines.includes('TimeoutStartSec=270s'), 'READY may take a start timeout per child')
})

t.test('values follow the config and the paths', async (t) => {
  const slow = keys(renderUnit({ ...base, shutdownTimeoutMs: 61_500 }))
  t.ok(slow.includes('TimeoutStopSec=72s'), 'ceil(61.5) + 10')
  t.notOk(slow.some((l) => l.startsWith('User=')), 'no user: root, said in a comment')
  const state = keys(renderUnit({ ...base, dataDir: '/var/lib/vigil' }))
  t.ok(state.includes('StateDirectory=vigil') && !state.some((l) => l.startsWith('ReadWritePaths=')), '/var/lib/NAME: StateDirectory')
  const home = keys(renderUnit({ ...base, dataDir: '/home/ann/rig' }))
  t.ok(home.includes('ProtectHome=read-only') && home.includes('ReadWritePaths=/home/ann/rig'), 'data under /home: read-only, the data dir writable')
  const pct = renderUnit({ ...base, dataDir: '/srv/100%' })
  t.match(pct, /^ReadWritePaths=\/srv\/100%%$/m, '% is escaped (a specifier otherwise)')
  t.throws(() => renderUnit({ ...base, dataDir: '/srv/my rig' }), /space/)
  t.throws(() => renderUnit({ ...base, dataDir: 'var' }), /absolute/)
  t.match(unitWarnings({ dataDir: '/tmp/vigil' }), [/PrivateTmp/], 'a data dir the service would get empty at every start')
  t.match(unitWarnings({ dataDir: '/var/tmp' }), [/PrivateTmp/])
  t.same(unitWarnings({ dataDir: '/srv/tmp' }), [])
  t.equal(unitPathProblem('/ok/path-1.2'), undefined)
  t.equal(stateDirectoryName('/var/lib/vigil/sub'), undefined)
})

t.test('vigil service print: config values, data dir, user; unknown actions refused', async (t) => {
  const dir = t.testdir({ 'vigil.config.json': JSON.stringify({ shutdown: { timeoutMs: 40000 } }) })
  let out = ''
  let err = ''
  const io = (env: NodeJS.ProcessEnv = {}): ServiceIo => ({ out: (s) => void (out += s), err: (s) => void (err += s), env: { PATH: '/usr/bin', ...env }, cwd: dir, uid: 0 })
  t.equal(await run(['print', '--data-dir', 'data', '--user', 'cam'], io({ VIGIL_WEB_PORT: '9999' })), 0, err)
  t.match(out, /^TimeoutStopSec=50s$/m, 'from ./vigil.config.json')
  t.match(out, new RegExp(`^ExecStart=${process.execPath} \\S+/bin/vigil\\.js start --config ${dir}/vigil\\.config\\.json$`, 'm'))
  t.match(out, new RegExp(`^ReadWritePaths=${dir}/data$`, 'm'))
  t.match(out, /^User=cam$/m)
  t.match(err, /not carried into the unit.*VIGIL_WEB_PORT/)
  out = ''
  err = ''
  t.equal(await run(['print'], io({ SUDO_USER: 'ann' })), 0, err)
  t.match(out, /^User=ann$/m, 'sudo: the invoking user')
  t.equal(await run(['print', '--enable'], io()), 2)
  t.equal(await run(['frobnicate'], io()), 2)
  t.equal(await run(['print', '--user', 'bad name'], io()), 2)
})

t.test('vigil service install: root check, writes the unit and the data dir', async (t) => {
  const dir = t.testdir({ units: {} })
  let out = ''
  let err = ''
  const io = (uid: number): ServiceIo => ({ out: (s) => void (out += s), err: (s) => void (err += s), env: { PATH: '/usr/bin:/bin' }, cwd: dir, uid })
  t.equal(await run(['install'], io(1000)), 1)
  t.match(err, /must run as root/)
  err = ''
  t.equal(await run(['install', '--unit-dir', 'units', '--data-dir', 'data', '--user', 'root'], io(0)), 0, err)
  const { readFileSync, statSync } = await import('node:fs')
  t.match(readFileSync(`${dir}/units/vigil.service`, 'utf8'), /^Type=notify$/m)
  t.ok(statSync(`${dir}/data`).isDirectory(), 'data dir made')
  t.match(out, /systemctl daemon-reload\n\s+systemctl enable --now vigil/, 'says what to run next, runs none of it')
  t.equal(await run(['install', '--unit-dir', 'units', '--user', 'no-such-user-here'], io(0)), 1)
  t.match(err, /no user "no-such-user-here": create it first/)
})
