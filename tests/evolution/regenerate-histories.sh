#!/usr/bin/env bash
# Rewrites the schema histories of the nine releases the way a user's would
# have grown: release 1's history is written by building it, then each next
# release starts from a copy of the previous one and extends it. The
# migrations of releases 4, 6 and 8 are removed for their first build, which must
# fail asking for them (as in README, "Changing your types"), then restored.
# The fuzz target over generated decoders keeps a copy of release 5's history.
#   tests/evolution/regenerate-histories.sh <configured build dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: regenerate-histories.sh <build dir>}
unset INSTADUMP_LOCKED
rm -f "$here"/v*/evolve_v*.schema-history.json "$here"/v*/evolve_v*.capnp
printf '{"instadump_schema_history": 1, "versions": []}\n' > "$here/v1/evolve_v1.schema-history.json"
ninja -C "$build" evolve_v1
for v in 2 3 4 5 6 7 8 9; do
  cp "$here/v$((v - 1))/evolve_v$((v - 1)).schema-history.json" "$here/v$v/evolve_v$v.schema-history.json"
  if [[ $v == 4 || $v == 6 || $v == 8 ]]; then
    cp "$here/v$v/shop.cpp" "$build/v$v-shop.cpp.orig"
    sed -i '/^\/\/ BEGIN MIGRATIONS/,/^\/\/ END MIGRATIONS/d' "$here/v$v/shop.cpp"
    if ninja -C "$build" "evolve_v$v" > "$build/v$v-first-build.log" 2>&1; then
      cp "$build/v$v-shop.cpp.orig" "$here/v$v/shop.cpp"
      echo "regenerate-histories: release $v built without its migrations" >&2
      exit 1
    fi
    grep -A3 "has no migration for it" "$build/v$v-first-build.log" >&2
    cp "$build/v$v-shop.cpp.orig" "$here/v$v/shop.cpp"
  fi
  ninja -C "$build" "evolve_v$v"
done
cp "$here/v5/evolve_v5.schema-history.json" \
  "$here/../../tools/fuzz/generated_decode/fuzz_generated_decode.schema-history.json"
