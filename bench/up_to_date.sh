# shellcheck shell=bash
# Sourced by the bench scripts. A binary older than the sources measures code that is no longer
# there (a build left from an experiment that was reverted since, say): a bench's default binary
# is brought up to date with them first, which takes a moment when nothing changed. A binary the
# caller names (BASTION_BIN, BENCH_BIN) is taken as it is.
#
#   bring_up_to_date TARGET NAMED_BY_CALLER   (NAMED_BY_CALLER: non-empty when the caller chose the binary)
bring_up_to_date() {
  local target="$1" named="$2"
  [[ -z "$named" ]] || return 0
  # No build folder yet: the caller's own check says to run scripts/build.sh.
  [[ -f build/build.ninja ]] || return 0
  echo "bench: bringing $target up to date with the sources (cmake --build build --target $target)" >&2
  cmake --build build --target "$target" >&2 || { echo "bench: building $target failed" >&2; exit 1; }
}
