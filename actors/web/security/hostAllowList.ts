/**
 * Which `Host` a request may name (DESIGN.md §9.1). A page on evil.example whose
 * name the attacker re-points at 127.0.0.1 (DNS rebinding) is same-origin to the
 * browser, so cookies, SameSite and Origin checks all pass; only the Host header
 * still says evil.example. Anything not listed here is refused before routing.
 */

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', ''])

/** `::1` → `[::1]`: the form a Host header carries an IPv6 literal in. */
function hostPart(host: string): string {
  const h = host.trim().toLowerCase()
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h
}

/** `name`, `name:port`, `[v6]`, `[v6]:port`; a bare name gets the server's port. */
function withPort(entry: string, port: number): string {
  const e = entry.trim().toLowerCase()
  if (/^\[[^\]]+\]:\d+$/.test(e) || /^[^:[\]]+:\d+$/.test(e)) return e
  return `${hostPart(e)}:${port}`
}

export interface AllowListInput {
  port: number
  /** web.host: a wildcard bind names no host of its own. */
  bindHost: string
  /** web.allowedHosts (VIGIL_WEB_ALLOWED_HOSTS): names the rig is reached by on the LAN. */
  extra?: readonly string[]
}

export function allowedHosts({ port, bindHost, extra = [] }: AllowListInput): Set<string> {
  const hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
  if (!WILDCARDS.has(bindHost.trim())) hosts.add(`${hostPart(bindHost)}:${port}`)
  for (const e of extra) if (e.trim() !== '') hosts.add(withPort(e, port))
  // Browsers leave the scheme's default port out of Host (and Origin).
  if (port === 80 || port === 443) for (const h of [...hosts]) if (h.endsWith(`:${port}`)) hosts.add(h.slice(0, -`:${port}`.length))
  return hosts
}

export function hostAllowed(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  return host !== undefined && allowed.has(host.toLowerCase())
}

/**
 * A browser on another site can send a simple POST (no preflight) or open a
 * WebSocket: its Origin names that site. Non-browser clients (curl, the CLI) send
 * none and pass; `null` (sandboxed frames, file: pages) never does.
 */
export function originAllowed(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true
  if (host === undefined) return false
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  const h = host.toLowerCase()
  // URL drops the default port, Host may carry it.
  const defaultPort = url.protocol === 'https:' ? '443' : '80'
  return url.host === h || `${url.host}:${defaultPort}` === h
}
