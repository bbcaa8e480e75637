#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS seconds each (default 60) and
# fails if any of them finds a crash (its input is left in
# fuzz/artifacts/<target>/). Installs cargo-fuzz when it is missing.
#
#   FUZZ_SECONDS=300 bash fuzz/run.sh                 # every target
#   FUZZ_TARGETS="image_patch microversion" bash fuzz/run.sh
#   FUZZ_SANITIZER=none bash fuzz/run.sh              # without ASan (faster)
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer, sanitizer coverage);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
SECS="${FUZZ_SECONDS:-60}"
SANITIZER="${FUZZ_SANITIZER:-address}"
# 16 codegen units rather than cargo-fuzz's default of one: the build of
# ironbark itself parallelises, at a small cost in fuzzing speed.
BUILD=(-s "$SANITIZER" --codegen-units 16)
[ -n "${CARGO_TARGET_DIR:-}" ] && BUILD+=(--target-dir "$CARGO_TARGET_DIR")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  # Its own build directory, not the fuzz build's.
  env -u CARGO_TARGET_DIR cargo install cargo-fuzz --locked
fi

read -r -a targets <<< "${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"
start=$SECONDS
cargo fuzz build "${BUILD[@]}"
echo "fuzz build: $((SECONDS - start)) s"

failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "==== $t: ${SECS} s"
  # -timeout: an input running 10 s is a hang; -rss_limit_mb: 2 GiB at
  # most, so a huge allocation is a crash too.
  if ! cargo fuzz run "${BUILD[@]}" "$t" -- \
      -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
      | { grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse)' || true; }; then
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes found by ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${SECS} s each, no crash"
