#!/usr/bin/env bash
# `npm test`'s runner: the suite in two passes, so it fits CI's 20 minutes on two cores.
#
# 1. unit, integration and e2e, two files at a time. Most of these wait on real processes
#    (ffmpeg, nats-server, Chromium) more than they compute: one at a time left the second
#    core idle (load average ~1.2 over a whole run). Every test uses its own free ports and
#    temp dirs, so two can run side by side.
# 2. the fault suite (docs/FAULTS.md), one file at a time: its tests kill, freeze and starve
#    the rig on purpose and report how long recovery took; they get the machine to themselves.
#
# Both passes always run; the exit code fails if either failed. Extra arguments go to both
# tap runs (e.g. `npm test -- --reporter=terse`).
set -u
tap --jobs=2 "$@" "test/unit/**/*.test.ts" "test/integration/**/*.test.ts" "test/e2e/**/*.test.ts"
first=$?
tap --jobs=1 "$@" "test/faults/**/*.test.ts"
second=$?
if [ "$first" -ne 0 ] || [ "$second" -ne 0 ]; then
  echo "npm test: unit/integration/e2e exit $first, faults exit $second" >&2
  exit 1
fi
