#!/usr/bin/env bash
# Installs the build into a fresh prefix, then builds a user's program
# against it twice: through pkg-config, and through find_package(libactor).
#   install_check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
libdir=$(find "$work/prefix" -name 'libactor.so.1' -printf '%h\n' | head -n 1)
[ -n "$libdir" ] || { echo "libactor.so.1 was not installed"; exit 1; }

cat > "$work/app.c" <<'C'
#include <actor/actor.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    const actor_msgtype *t;
    if (actor_msgtype_define("Install.Check", "q", "q", &t) != ACTOR_OK)
        return 1;
    if (strcmp(actor_version_string(), "1.0.0") != 0 && actor_version() >> 16 != 1)
        return 2;
    actor_runtime *rt;
    if (actor_runtime_new(1, &rt) != ACTOR_OK)
        return 3;
    actor_runtime_free(rt);
    puts("installed libactor works");
    return 0;
}
C
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
cc "$work/app.c" -o "$work/app-pc" $(pkg-config --cflags --libs libactor) -Wl,-rpath,"$libdir"
"$work/app-pc"

mkdir -p "$work/cm"
cat > "$work/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(app C)
find_package(libactor 1 REQUIRED)
add_executable(app "$work/app.c")
target_link_libraries(app PRIVATE libactor::actor)
CM
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_RPATH="$libdir" > "$work/cm.log"
cmake --build "$work/cm/build" > "$work/cm-build.log"
"$work/cm/build/app"
