# The schema history of instadump-codegen, step by step: each step writes a
# source, runs the tool against one history file and checks the exit code,
# the messages and the schema. Covers ordinals kept across reordering and
# renames, renames that name nothing, new and removed members and
# enumerators, determinism of the file,
# an incompatible change asking for a migration, locked mode and damaged or
# newer history files.
#   -DTOOL=<instadump-codegen> -DSOURCE_DIR=<tests/codegen> -DWORK_DIR=<scratch>
cmake_minimum_required(VERSION 3.25)  # script mode: current policies
file(REMOVE_RECURSE ${WORK_DIR})
set(history ${WORK_DIR}/h.schema-history.json)

# step(<name> <source text> EXIT <code> [HAS <text>...] [SCHEMA <text>...] [ARGS <extra tool args>...])
function(step name source)
  cmake_parse_arguments(ARG "" "EXIT" "HAS;SCHEMA;ARGS" ${ARGN})
  file(WRITE ${WORK_DIR}/${name}.cpp "#include <string>\n#include \"instadump_stub.h\"\n${source}")
  execute_process(
    COMMAND ${TOOL} --target=h --schema-out=${WORK_DIR}/h.capnp --codec-out=${WORK_DIR}/h.codec.h
            --history=${history} ${ARG_ARGS} ${WORK_DIR}/${name}.cpp -- -std=c++20 -I${SOURCE_DIR}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL ARG_EXIT)
    message(FATAL_ERROR "history test, step ${name}: expected exit ${ARG_EXIT}, got ${rc}:\n${out}${err}")
  endif()
  foreach(text IN LISTS ARG_HAS)
    string(FIND "${err}" "${text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "history test, step ${name}: expected '${text}' in the messages:\n${err}")
    endif()
  endforeach()
  if(ARG_SCHEMA)
    file(READ ${WORK_DIR}/h.capnp schema)
    foreach(text IN LISTS ARG_SCHEMA)
      string(FIND "${schema}" "${text}" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "history test, step ${name}: expected '${text}' in the schema:\n${schema}")
      endif()
    endforeach()
  endif()
endfunction()

set(v1 "struct P { int a = 0; std::string b; };
enum class E { x, y };
[[instadump::state]] instadump::ref<P> p;
[[instadump::state]] instadump::ref<E> e;")
step(first "${v1}" EXIT 0 SCHEMA "a @0 :Int32;" "b @1 :Text;" "x @0;" "y @1;")
file(READ ${history} first_history)

# Locked mode refuses any change, and changes nothing.
set(v2 "struct P { std::string b; [[instadump::renamed_from(\"a\")]] int alpha = 0; long extra = 0; };
enum class E { x, y, z };
[[instadump::state]] instadump::ref<P> p;
[[instadump::state]] instadump::ref<E> e;")
step(locked "${v2}" EXIT 1 ARGS --locked
     HAS "locked mode (INSTADUMP_LOCKED): the schema history" "would change (version 1 extended)"
         "member P::a renamed to alpha" "new member P::extra" "new enumerator E::z")
file(READ ${history} after_locked)
if(NOT after_locked STREQUAL first_history)
  message(FATAL_ERROR "history test: locked mode changed the history")
endif()

# Reordered, renamed, new: ordinals stay with their members.
step(compatible "${v2}" EXIT 0 SCHEMA "b @1 :Text;" "alpha @0 :Int32;" "extra @2 :Int64;" "z @2;")
file(READ ${history} h2)
step(again "${v2}" EXIT 0)
file(READ ${history} h2_again)
if(NOT h2 STREQUAL h2_again)
  message(FATAL_ERROR "history test: an unchanged build rewrote the history differently")
endif()

# Removed members and enumerators keep their ordinals, reserved.
step(removed "struct P { std::string b; long extra = 0; };
enum class E { y, z };
[[instadump::state]] instadump::ref<P> p;
[[instadump::state]] instadump::ref<E> e;"
     EXIT 0 SCHEMA "removedAlpha @0 :Int32;  # obsolete: alpha was removed" "removedX @0;" "y @1;" "z @2;")

# A narrowing is not a widening: the build asks for a migration, and the
# history already holds the new version.
step(narrowed "struct P { std::string b; int extra = 0; };
enum class E { y, z };
[[instadump::state]] instadump::ref<P> p;
[[instadump::state]] instadump::ref<E> e;"
     EXIT 1 HAS "is at version 2" "instadump::schema::v2::P instadump::schema::migrate(const instadump::schema::v1::P& old)")
file(READ ${history} h3)
string(FIND "${h3}" "\"version\": 2," at)
if(at EQUAL -1)
  message(FATAL_ERROR "history test: the new version was not written:\n${h3}")
endif()

# A state renamed from a state that still exists.
file(WRITE ${history} "${first_history}")
step(rename_clash "struct P { int a = 0; std::string b; };
enum class E { x, y };
[[instadump::state]] instadump::ref<P> p;
[[instadump::state, instadump::renamed_from(\"p\")]] instadump::ref<P> q;
[[instadump::state]] instadump::ref<E> e;"
     EXIT 1 HAS "state q is [[instadump::renamed_from(\"p\")]], but a state named p still exists")

# A rename must name something the history holds: a typo would otherwise
# drop the stored values as a removal plus an addition. A state's short name
# is looked up from its namespace outwards, then as the unambiguous end of a
# key; what is looked for and what exists are named.
file(REMOVE ${history})
set(renames_v1 "namespace game {
struct P { int a = 0; std::string name; };
[[instadump::state]] instadump::ref<P> p;
[[instadump::state]] instadump::ref<std::string> motd;
}
namespace ui {
[[instadump::state]] instadump::ref<std::string> motd;
}")
step(renames_first "${renames_v1}" EXIT 0)
file(READ ${history} renames_history)
step(member_typo "namespace game {
struct P { int a = 0; [[instadump::renamed_from(\"nmae\")]] std::string label; };
[[instadump::state]] instadump::ref<P> p;
[[instadump::state]] instadump::ref<std::string> motd;
}
namespace ui {
[[instadump::state]] instadump::ref<std::string> motd;
}"
     EXIT 1 HAS "member P::label is [[instadump::renamed_from(\"nmae\")]], but P in the schema history has no member nmae; its members are: a, name; fix the name or remove the attribute")
step(member_of_new_type "${renames_v1}
namespace game {
struct Q { [[instadump::renamed_from(\"x\")]] int y = 0; };
[[instadump::state]] instadump::ref<Q> q;
}"
     EXIT 1 HAS "member Q::y is [[instadump::renamed_from(\"x\")]], but Q is not in the schema history (a new type)")
step(member_still_there "namespace game {
struct P { int a = 0; std::string name; [[instadump::renamed_from(\"name\")]] std::string label; };
[[instadump::state]] instadump::ref<P> p;
[[instadump::state]] instadump::ref<std::string> motd;
}
namespace ui {
[[instadump::state]] instadump::ref<std::string> motd;
}"
     EXIT 1 HAS "member P::label is [[instadump::renamed_from(\"name\")]], but a member named name still exists in P")
set(renames_rest "namespace game {
struct P { int a = 0; std::string name; };
[[instadump::state]] instadump::ref<P> p;
}
namespace ui {
[[instadump::state]] instadump::ref<std::string> motd;
}")
# (Locked mode lists the changes without writing them.)
step(state_short_name "${renames_rest}
namespace game {
[[instadump::state, instadump::renamed_from(\"motd\")]] instadump::ref<std::string> message;
}"
     EXIT 1 ARGS --locked HAS "state game::motd renamed to game::message")
step(state_typo "${renames_rest}
namespace game {
[[instadump::state, instadump::renamed_from(\"mtod\")]] instadump::ref<std::string> message;
}"
     EXIT 1 HAS "state game::message (" "is [[instadump::renamed_from(\"mtod\")]], but the schema history has no such state (looked for mtod, game::mtod, a key ending in ::mtod); its states are: game::motd, game::p, ui::motd; fix the name or remove the attribute")
step(state_ambiguous "${renames_rest}
namespace news {
[[instadump::state, instadump::renamed_from(\"motd\")]] instadump::ref<std::string> message;
}"
     EXIT 1 HAS "state news::message (" "but several states of the schema history end in 'motd': game::motd, ui::motd; write the whole key")
file(READ ${history} after_renames)
if(NOT after_renames STREQUAL renames_history)
  message(FATAL_ERROR "history test: a failed rename changed the history")
endif()

# Damaged and newer history files are refused with the file's name.
file(WRITE ${history} "{ not json")
step(damaged "${v1}" EXIT 1 HAS "${history}: not valid JSON")
file(WRITE ${history} "{\"instadump_schema_history\": 7, \"versions\": []}")
step(newer "${v1}" EXIT 1 HAS "history format 7 was written by a newer instadump-codegen")
file(WRITE ${history} "{\"instadump_schema_history\": 1, \"versions\": [{\"version\": 1, \"colour\": 3}]}")
step(unknown_key "${v1}" EXIT 1 HAS "version 1: unknown key \"colour\"")
