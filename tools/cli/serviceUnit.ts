/**
 * The systemd unit `vigil service print|install` writes (DESIGN.md §9.3): a pure function
 * of absolute paths and config values, so a unit test reads every line and
 * `systemd-analyze verify` checks the result (test/integration/cli/service.test.ts).
 */

export interface UnitOptions {
  /** Absolute: the node binary and bin/vigil.js. */
  nodePath: string
  vigilBin: string
  /** Absolute data dir: the only place the service may write. */
  dataDir: string
  /** Absolute config file, when there is one. */
  configFile?: string
  /** The account the rig runs as; undefined: root (a comment says so). */
  user?: string
  /** config.shutdown.timeoutMs: systemd must wait longer than vigil's own bound. */
  shutdownTimeoutMs: number
  /** config.supervisor.startTimeoutMs: READY may take one per child. */
  startTimeoutMs: number
  watchdogSec?: number
  /** Extra Environment= lines (FFMPEG_PATH, NATS_SERVER_BIN as the operator set them). */
  environment?: Record<string, string>
}

export const UNIT_NAME = 'vigil.service'
export const DEFAULT_WATCHDOG_SEC = 30
/** systemd's TimeoutStopSec margin past shutdown.timeoutMs: vigil forces its own stop first, then flushes its logs. */
export const STOP_MARGIN_SEC = 10
/** An upper bound on the tree's children (nats … mqtt): READY waits for each one's start. */
const TREE_CHILDREN = 12

/** Why a path cannot go into a unit as is, or undefined. */
export function unitPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be absolute'
  // Unit files split on whitespace and give quotes, backslashes and a leading -/+ meanings;
  // refusing them keeps every line plain (no escaping to get wrong).
  if (/[\s"'\\;]/.test(path)) return 'has a space, quote, backslash or semicolon, which a unit file cannot carry plainly'
  if (/[\x00-\x1f\x7f]/.test(path)) return 'has a control character'
  return undefined
}

/** `%` starts a specifier in unit files, `$` a variable in Exec lines. */
const literal = (value: string) => value.replace(/%/g, '%%')
const execLiteral = (value: string) => literal(value).replace(/\$/g, '$$$$')

/** Paths under these are hidden by ProtectHome=yes; the unit then says read-only instead. */
const HOME_PREFIXES = ['/home/', '/root/', '/run/user/']
const underHome = (path: string) => HOME_PREFIXES.some((p) => `${path}/`.startsWith(p))

/** `/var/lib/<name>`: systemd can make, own and open it itself (StateDirectory=). */
export function stateDirectoryName(dataDir: string): string | undefined {
  const m = /^\/var\/lib\/([A-Za-z0-9_.-]+)\/?$/.exec(dataDir)
  return m && m[1] !== '.' && m[1] !== '..' ? m[1] : undefined
}

/**
 * What is valid but probably not meant: PrivateTmp= gives the service its own empty /tmp,
 * so a data dir there would be invisible outside it and gone at every restart.
 */
export function unitWarnings(o: Pick<UnitOptions, 'dataDir'>): string[] {
  const out: string[] = []
  if (/^\/(var\/)?tmp(\/|$)/.test(o.dataDir)) {
    out.push(`data dir ${o.dataDir} is under /tmp, which the service gets privately and empty at every start (PrivateTmp=yes): choose another, e.g. --data-dir /var/lib/vigil`)
  }
  return out
}

export function renderUnit(o: UnitOptions): string {
  const paths = [o.nodePath, o.vigilBin, o.dataDir, ...(o.configFile ? [o.configFile] : [])]
  for (const p of paths) {
    const problem = unitPathProblem(p)
    if (problem) throw new Error(`path ${JSON.stringify(p)} ${problem}`)
  }
  const watchdogSec = o.watchdogSec ?? DEFAULT_WATCHDOG_SEC
  const stopSec = Math.ceil(o.shutdownTimeoutMs / 1000) + STOP_MARGIN_SEC
  const startSec = Math.max(90, Math.ceil((o.startTimeoutMs * TREE_CHILDREN) / 1000) + 30)
  const state = stateDirectoryName(o.dataDir)
  const home = paths.some(underHome)
  const exec = [o.nodePath, o.vigilBin, 'start', ...(o.configFile ? ['--config', o.configFile] : [])].map(execLiteral).join(' ')
  const env = { VIGIL_DATA_DIR: o.dataDir, ...(o.environment ?? {}) }
  const lines = [
    `# ${UNIT_NAME}: written by \`vigil service print\`; docs/OPERATIONS.md "Running as a service".`,
    '[Unit]',
    'Description=vigil camera rig supervisor',
    'Wants=network-online.target',
    'After=network-online.target',
    '# An unattended rig is restarted for ever, never given up on after a burst of crashes.',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=notify',
    '# vigil has systemd-notify (a helper process) send READY, STATUS, WATCHDOG and STOPPING,',
    '# so the messages come from a process other than the main one.',
    'NotifyAccess=all',
    `ExecStart=${exec}`,
    `WorkingDirectory=${literal(o.dataDir)}`,
    ...Object.entries(env).map(([k, v]) => `Environment=${k}=${literal(v)}`),
    ...(o.user && o.user !== 'root'
      ? [`User=${literal(o.user)}`]
      : ['# No User=: the rig runs as root. `vigil service print --user NAME` runs it as NAME.']),
    '# Cameras (/dev/video*) and ALSA microphones belong to these groups on Debian.',
    'SupplementaryGroups=video audio',
    'UMask=0077',
    '# Pinged every half of this while the event loop is responsive; silence means wedged: restart.',
    `WatchdogSec=${watchdogSec}s`,
    'Restart=always',
    'RestartSec=5s',
    `# READY=1 waits for every child's start (supervisor.startTimeoutMs ${o.startTimeoutMs} ms each).`,
    `TimeoutStartSec=${startSec}s`,
    `# Above shutdown.timeoutMs (${o.shutdownTimeoutMs} ms): vigil forces its own stop first.`,
    `TimeoutStopSec=${stopSec}s`,
    '# SIGTERM to vigil alone: it stops its children in order (the recording is finalized first);',
    '# whatever is left when it has exited, or at TimeoutStopSec, gets SIGKILL.',
    'KillMode=mixed',
    '',
    '# Hardening (docs/SECURITY.md). Writable: the data dir only (and a private /tmp).',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    ...(state ? [`StateDirectory=${literal(state)}`, 'StateDirectoryMode=0700'] : [`ReadWritePaths=${literal(o.dataDir)}`]),
    'PrivateTmp=yes',
    home ? '# read-only, not yes: the install, config or data lives under a home directory.' : null,
    `ProtectHome=${home ? 'read-only' : 'yes'}`,
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'RestrictNamespaces=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    '# AF_NETLINK: network interface lookups (the node name, NATS, the web server).',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    'CapabilityBoundingSet=',
    'AmbientCapabilities=',
    '# /dev: cameras, microphones and the basics (null, zero, random, …) only.',
    '# PrivateDevices= would hide /dev/video*; MemoryDenyWriteExecute= would stop V8\'s JIT.',
    'DevicePolicy=closed',
    'DeviceAllow=char-video4linux rw',
    'DeviceAllow=char-alsa rw',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ]
  return lines.filter((l): l is string => l !== null).join('\n')
}
