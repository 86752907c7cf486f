# Shared by scripts/demo and scripts/test: installs what is missing and
# provides helpers to configure and build one build directory.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CMAKE="$("$ROOT/scripts/install-deps" | tail -1)"
CTEST="$(dirname "$CMAKE")/ctest"
export CXX=clang++-19
JOBS="${INSTADUMP_JOBS:-$(nproc)}"

# configure <build-dir> [cmake args...]
configure() {
  local dir="$1"; shift
  mkdir -p "$dir"
  "$CMAKE" -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-19 "$@" >"$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; return 1; }
}

# build <build-dir> [targets...]
build() {
  local dir="$1"; shift
  ninja -C "$dir" -j "$JOBS" "$@"
}
