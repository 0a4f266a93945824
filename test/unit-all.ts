/**
 * Every unit test file in one process, for `npm test`: the unit tests are pure and fast
 * (~20 s of tests in all), but each file in its own process paid node, tsx and tap's start
 * again (~2 s, 66 files: over 2 minutes of the suite's wall time on two cores). Each file
 * still runs on its own with `tap test/unit/<path>.test.ts` or `npm run test:unit`.
 */
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('./unit/', import.meta.url))
const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.test.ts')).sort()
for (const file of files) {
  // Imported in order: each file's top-level t.test calls join this process's one tap root.
  await import(pathToFileURL(join(root, file)).href)
}
if (files.length === 0) throw new Error(`no unit tests under ${relative(process.cwd(), root)}`)
