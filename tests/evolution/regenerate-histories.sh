#!/usr/bin/env bash
# Rewrites the schema histories of the five releases the way a user's would
# have grown: release 1's history is written by building it, then each next
# release starts from a copy of the previous one and extends it. Release 4's
# migrations are removed for its first build, which must fail asking for
# them (as in README, "Changing your types"), then restored.
#   tests/evolution/regenerate-histories.sh <configured build dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: regenerate-histories.sh <build dir>}
unset INSTADUMP_LOCKED
rm -f "$here"/v*/evolve_v*.schema-history.json "$here"/v*/evolve_v*.capnp
printf '{"instadump_schema_history": 1, "versions": []}\n' > "$here/v1/evolve_v1.schema-history.json"
ninja -C "$build" evolve_v1
for v in 2 3 4 5; do
  cp "$here/v$((v - 1))/evolve_v$((v - 1)).schema-history.json" "$here/v$v/evolve_v$v.schema-history.json"
  if [[ $v == 4 ]]; then
    cp "$here/v4/shop.cpp" "$build/v4-shop.cpp.orig"
    sed -i '/^\/\/ BEGIN MIGRATIONS/,/^\/\/ END MIGRATIONS/d' "$here/v4/shop.cpp"
    if ninja -C "$build" evolve_v4 > "$build/v4-first-build.log" 2>&1; then
      cp "$build/v4-shop.cpp.orig" "$here/v4/shop.cpp"
      echo "regenerate-histories: release 4 built without its migrations" >&2
      exit 1
    fi
    grep -A3 "has no migration for it" "$build/v4-first-build.log" >&2
    cp "$build/v4-shop.cpp.orig" "$here/v4/shop.cpp"
  fi
  ninja -C "$build" "evolve_v$v"
done
