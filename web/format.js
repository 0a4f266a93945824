/* Helpers the live page and the recordings page share (formatting, API calls): plain JS,
 * no build step, loaded before each page's own script. */
'use strict'
window.vigilFormat = {
  bytes(n) {
    if (typeof n !== 'number' || !Number.isFinite(n)) return 'unknown'
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    let i = 0
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024
      i += 1
    }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
  },
}

/* API calls over a bad link (DESIGN.md §9.5), for both pages' mutations. Each try gets
 * 10 s (AbortController); a try that got no answer (network error, time out) or a
 * TIMEOUT/UNAVAILABLE reply is tried again after about 0.5 s, then 1 s: 3 tries in all.
 * The caller makes one idempotency key per click and sends it as X-Idempotency-Key: every
 * try carries the same one, so when the first reply was lost on the way back the rig
 * answers the retry with that reply (the session it started), not ALREADY_RECORDING.
 * Resolves { status, body } (status 0: no answer; body null: not JSON); never rejects. */
window.vigilApi = (() => {
  const TIMEOUT_MS = 10000
  const TRIES = 3
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

  async function once(path, init, timeoutMs) {
    const ctrl = new AbortController()
    const timer = setTimeout(() => ctrl.abort(), timeoutMs)
    try {
      let res
      try {
        res = await fetch(path, Object.assign({}, init, { signal: ctrl.signal }))
      } catch (err) {
        const code = ctrl.signal.aborted ? 'TIMEOUT' : 'UNAVAILABLE'
        const message = ctrl.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : `vigil is not reachable (${err.message})`
        return { status: 0, body: { ok: false, error: { code, message } } }
      }
      let body = null
      try {
        body = res.status === 204 ? null : await res.json()
      } catch {
        // Not JSON (a proxy's error page), or the body was cut off: the status says enough.
      }
      return { status: res.status, body }
    } finally {
      clearTimeout(timer)
    }
  }

  function retryable(reply) {
    if (reply.status === 0) return true
    const code = reply.body && reply.body.error && reply.body.error.code
    if (code) return code === 'TIMEOUT' || code === 'UNAVAILABLE'
    return reply.status === 502 || reply.status === 503 || reply.status === 504
  }

  return {
    newKey() {
      if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID()
      return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
    },
    async call(path, init, opts = {}) {
      const tries = opts.tries || TRIES
      let reply
      for (let n = 1; n <= tries; n++) {
        reply = await once(path, init, opts.timeoutMs || TIMEOUT_MS)
        if (!retryable(reply) || n === tries) break
        console.warn(`vigil: ${init.method || 'GET'} ${path}: try ${n} of ${tries} failed (${reply.status || reply.body.error.code}); trying again`)
        await sleep(500 * 2 ** (n - 1) * (0.8 + Math.random() * 0.4))
      }
      return reply
    },
  }
})()
