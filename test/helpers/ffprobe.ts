// Moved to tools/sessionMedia.ts (the bench needs it too; tools may not import test code).
export { ffprobe, ffprobePath, type ProbeResult } from '../../tools/sessionMedia.js'
