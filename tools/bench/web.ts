/**
 * Web benchmark: a bounded loop of concurrent keep-alive requests against one
 * path for a fixed time, counting answers, errors and latency percentiles.
 * (autocannon/wrk are not dependencies; this measures the same thing, coarser.)
 *
 *   npx tsx tools/bench/web.ts                      # serves a test rig in a child process
 *   npx tsx tools/bench/web.ts --url http://127.0.0.1:8080 --seconds 10 --connections 32
 *   npx tsx tools/bench/web.ts --auth both          # GET /api/v1/state: auth off vs a session cookie, side by side
 *
 * The server runs in its own process so the load loop does not share its event loop.
 */
import { spawn } from 'node:child_process'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'node:http'

interface Result {
  path: string
  /** off: no credentials configured; cookie: auth on, every request carries vigil_session. */
  auth?: 'off' | 'cookie'
  seconds: number
  connections: number
  requests: number
  non2xx: number
  errors: number
  rps: number
  p50ms: number
  p99ms: number
  maxMs: number
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function load(base: string, path: string, seconds: number, connections: number, headers: Record<string, string> = {}): Promise<Result> {
  const url = new URL(path, base)
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const latencies: number[] = []
  let non2xx = 0
  let errors = 0
  const deadline = performance.now() + seconds * 1000
  const once = () =>
    new Promise<void>((resolve) => {
      const started = performance.now()
      const req = request(url, { agent, headers }, (res) => {
        res.resume()
        res.on('end', () => {
          latencies.push(performance.now() - started)
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) non2xx += 1
          resolve()
        })
      })
      req.on('error', () => {
        errors += 1
        resolve()
      })
      req.end()
    })
  const worker = async () => {
    while (performance.now() < deadline) await once()
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: connections }, worker))
  const elapsed = (performance.now() - t0) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const round = (n: number) => Math.round(n * 100) / 100
  return {
    path,
    seconds: round(elapsed),
    connections,
    requests: latencies.length,
    non2xx,
    errors,
    rps: Math.round(latencies.length / elapsed),
    p50ms: round(percentile(latencies, 50)),
    p99ms: round(percentile(latencies, 99)),
    maxMs: round(latencies[latencies.length - 1] ?? 0),
  }
}

async function serve(): Promise<void> {
  const { startWebRig, loginCookie, TEST_TOKEN } = await import('../../test/helpers/webRig.js')
  const withAuth = process.argv.includes('--with-auth')
  const rig = await startWebRig(withAuth ? { token: TEST_TOKEN } : {})
  const cookie = withAuth ? await loginCookie(rig.baseUrl, { token: TEST_TOKEN }) : undefined
  process.stdout.write(`${JSON.stringify({ url: rig.baseUrl, cookie })}\n`)
  // Ends with its parent (stdin closes), like every child vigil owns.
  process.stdin.resume()
  process.stdin.on('end', () => void rig.stop().then(() => process.exit(0)))
}

async function startServer(withAuth = false): Promise<{ url: string; cookie?: string; stop(): void }> {
  const self = fileURLToPath(import.meta.url)
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--serve', ...(withAuth ? ['--with-auth'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] })
  const { url, cookie } = await new Promise<{ url: string; cookie?: string }>((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString('utf8')
      const line = buf.split('\n')[0]
      if (buf.includes('\n') && line) resolve(JSON.parse(line) as { url: string; cookie?: string })
    })
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)))
  })
  return { url, ...(cookie ? { cookie } : {}), stop: () => child.stdin.end() }
}

/**
 * The cost of the security plugin's cookie check: the same rig without credentials and
 * with a token (every request carrying a session cookie), both servers up at once and
 * measured in turns (off, cookie, off, cookie …) so drift on a shared box hits both alike.
 */
async function compareAuth(seconds: number, connections: number, rounds: number): Promise<Result[]> {
  const off = await startServer(false)
  const on = await startServer(true)
  const results: Result[] = []
  try {
    const runs: Array<{ auth: 'off' | 'cookie'; base: string; headers: Record<string, string> }> = [
      { auth: 'off', base: off.url, headers: {} },
      { auth: 'cookie', base: on.url, headers: { Cookie: on.cookie ?? '' } },
    ]
    for (const r of runs) await load(r.base, '/api/v1/state', 1, connections, r.headers)
    for (let i = 0; i < rounds; i++) {
      for (const r of runs) results.push({ ...(await load(r.base, '/api/v1/state', seconds, connections, r.headers)), auth: r.auth })
    }
  } finally {
    off.stop()
    on.stop()
  }
  return results
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return serve()
  const seconds = Number(arg('seconds', '10'))
  const connections = Number(arg('connections', '32'))
  const given = arg('url', '')
  if (arg('auth', 'off') === 'both') {
    const results = await compareAuth(seconds, connections, Number(arg('rounds', '3')))
    const median = (auth: string) => {
      const rps = results.filter((r) => r.auth === auth).map((r) => r.rps).sort((a, b) => a - b)
      return rps[Math.floor(rps.length / 2)] ?? 0
    }
    const overheadPercent = Math.round((1 - median('cookie') / median('off')) * 1000) / 10
    const env = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? '?' }
    process.stdout.write(`${JSON.stringify({ env, results, medianRps: { off: median('off'), cookie: median('cookie') }, overheadPercent }, null, 2)}\n`)
    if (results.some((r) => r.errors > 0 || r.non2xx > 0)) process.exitCode = 1
    return
  }
  const server = given ? null : await startServer()
  const base = given || server!.url
  const results: Result[] = []
  try {
    for (const path of ['/health', '/api/v1/state']) {
      // A short warm-up so the JIT and the keep-alive sockets are in place.
      await load(base, path, 1, connections)
      results.push(await load(base, path, seconds, connections))
    }
  } finally {
    server?.stop()
  }
  const env = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', server: given ? given : 'tools/bench/web.ts test rig (separate process)' }
  process.stdout.write(`${JSON.stringify({ env, results }, null, 2)}\n`)
  if (results.some((r) => r.errors > 0 || r.non2xx > 0)) process.exitCode = 1
}

void main()
