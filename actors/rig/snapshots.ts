import { writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'

let sequence = 0

/** `snap-<YYYYMMDDTHHMMSSmmmZ>-<n>.jpg`, written to a temp name then renamed, so a reader never sees half a file. */
export async function saveJpeg(dir: string, jpeg: Buffer, at: number): Promise<{ file: string; bytes: number } | null> {
  const stamp = new Date(at).toISOString().replace(/[-:.]/g, '')
  const file = `snap-${stamp}-${++sequence}.jpg`
  const tmp = join(dir, `.${file}.tmp`)
  try {
    await writeFile(tmp, jpeg)
    await rename(tmp, join(dir, file))
    return { file, bytes: jpeg.length }
  } catch {
    return null
  }
}
