#!/usr/bin/env bash
# Make sure a Java 17 (or newer) runtime is there for ansible-rulebook's rules engine (drools_jpy).
# Installs Debian's openjdk-17-jre-headless only where no suitable java is found (needs root or sudo).
set -euo pipefail

java_major() {
    # "17.0.15" -> 17, "1.8.0_392" -> 8
    local version
    version=$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n1)
    version=${version#1.}
    echo "${version%%.*}"
}

find_java() {
    local candidate
    for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(java_major "$candidate")" -ge 17 ] 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if java=$(find_java); then
    echo "java: $java ($(java_major "$java"))" >&2
    exit 0
fi

echo "java: no Java 17 runtime found, installing openjdk-17-jre-headless" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
java=$(find_java) || { echo "java: still no Java 17 runtime after the install" >&2; exit 1; }
echo "java: $java ($(java_major "$java"))" >&2
