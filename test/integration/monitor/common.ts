/** Shared by the monitor rig tests (issue 5, "Shown by"): whole rig in-process, driven over NATS. */
export const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff])

export const isJpeg = (b: Buffer) => b.length > 3 && b.subarray(0, 3).equals(JPEG_MAGIC)

export const hex = (b: Buffer, n = 4) => b.subarray(0, n).toString('hex')

export const secs = (ms: number) => (ms / 1000).toFixed(1)
