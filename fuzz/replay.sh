#!/usr/bin/env bash
# Replays every committed corpus input (fuzz/corpus/<target>/seed-*) through
# its fuzz target once, each target built as a plain debug binary in the
# main build directory: a regression check. No sanitizer and no coverage
# instrumentation, so it reuses most of the main build's dependencies and
# takes about three minutes, where fuzz/run.sh (the real fuzzing) rebuilds
# everything instrumented.
#
#   bash fuzz/replay.sh              # every target
#   FUZZ_TARGETS=image_patch bash fuzz/replay.sh
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}"
read -r -a targets <<< "${FUZZ_TARGETS:-$(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' Cargo.toml | grep -v '^ironbark-fuzz$' | tr '\n' ' ')}"
start=$SECONDS
cargo build --quiet --bins
echo "replay build: $((SECONDS - start)) s"

failed=()
for t in "${targets[@]}"; do
  inputs=(corpus/"$t"/seed-*)
  # libFuzzer given files (not directories) runs each once and exits.
  if out=$("$CARGO_TARGET_DIR/debug/$t" -rss_limit_mb=2048 "${inputs[@]}" 2>&1); then
    echo "$t: ${#inputs[@]} inputs replayed"
  else
    echo "$out" | tail -40
    echo "$t: FAILED" >&2
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "replay: ${failed[*]} failed on a committed input" >&2
  exit 1
fi
echo "replay: ${#targets[@]} targets, every committed input passed"
