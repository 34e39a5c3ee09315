#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer, outside SwiftPM (Package.swift takes
# no unsafe flags): the modules the parsers live in, from their sources, each compiled once into
# .build-fuzz/mod (only the parser files of ENIMetadata and ENIAgent, with Fuzz/shims for what
# they name but never reach: ENIApply), then one executable per target, .build-fuzz/bin/fuzz-<target>.
# Rebuilds only what is older than its sources. Usage: Fuzz/build.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build-fuzz
MOD=$OUT/mod
BIN=$OUT/bin
mkdir -p "$MOD" "$BIN"
SWIFTC=${SWIFTC:-swiftc}
# lld: gold warns about every ASan check symbol it cannot export.
FLAGS=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -use-ld=lld -I "$MOD")

ALL_TARGETS=(toml config json metadata-file addresses metadata-answers aliyun-ips metadata-base dbus-message)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# stale OUTPUT INPUT...: true when OUTPUT is missing or older than one of the inputs.
stale() {
    local out=$1; shift
    [ -e "$out" ] || return 0
    [ -n "$(find "$@" -newer "$out" 2>/dev/null | head -1)" ]
}

# module NAME SOURCE...: NAME.swiftmodule and NAME.o, internal symbols reachable (-enable-testing).
module() {
    local name=$1; shift
    # A module is rebuilt when the modules built before it (it may import them) changed.
    if stale "$MOD/$name.o" "$@" Fuzz/build.sh "${built[@]}"; then
        echo "fuzz: compiling module $name"
        "$SWIFTC" "${FLAGS[@]}" -enable-testing -wmo -module-name "$name" -emit-module \
            -emit-module-path "$MOD/$name.swiftmodule" -c "$@" -o "$MOD/$name.o"
    fi
    built+=("$MOD/$name.o")
}
built=()

module ENIModel Sources/ENIModel/*.swift
module ENIPlanner Sources/ENIPlanner/*.swift
module ENIRender Sources/ENIRender/*.swift
# ENIMetadata without the HTTP client: the provider protocol and errors, and the answers' readers.
module ENIMetadata Sources/ENIMetadata/Provider.swift Sources/ENIMetadata/Answers.swift
# ENIApply's FileStore as a stand-in (Fuzz/shims): the members Config.swift names, never reached.
module ENIApply Fuzz/shims/FileStore.swift
# ENIAgent's parser: the config (TOML, keys). The metadata file's JSON is ENIModel's (InstanceJSON).
module ENIAgent Sources/ENIAgent/Config.swift Sources/ENIAgent/ConfigKeys.swift Sources/ENIAgent/TOML.swift
# ENIDBus's wire format and messages, without the connection (sockets).
module ENIDBus Sources/ENIDBus/Wire.swift Sources/ENIDBus/Message.swift

for t in "${targets[@]}"; do
    [ -f "Fuzz/$t.swift" ] || { echo "fuzz: no target $t (Fuzz/$t.swift)" >&2; exit 1; }
    if stale "$BIN/fuzz-$t" "Fuzz/$t.swift" Fuzz/Support.swift "$MOD"/*.o; then
        echo "fuzz: linking fuzz-$t"
        "$SWIFTC" "${FLAGS[@]}" -module-name "fuzz_${t//-/_}" "Fuzz/$t.swift" Fuzz/Support.swift "$MOD"/*.o -o "$BIN/fuzz-$t"
    fi
done
