/* Helpers the live page and the recordings page share: plain JS, no build step, loaded
 * before each page's own script. */
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
