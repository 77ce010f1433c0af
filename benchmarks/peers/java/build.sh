#!/bin/sh
# Builds the Java peer (EchoPeer.java) into OUT/echo-peer.jar with javac, against Debian's
# jars only (openjdk-17-jdk-headless, libwss4j-java and what it depends on): no Maven, no
# download. The jar's manifest names those jars by their absolute paths (as Debian's own
# launchers do), so `java -jar OUT/echo-peer.jar ...` runs it.
#
#   benchmarks/peers/java/build.sh OUT
#   benchmarks/peers/java/build.sh --check   # exit 3 and one line when something is missing
set -eu
out=${1:?usage: build.sh OUT | --check}
here=$(cd "$(dirname "$0")" && pwd)
# WSS4J 1.6.19, Apache Santuario (xmlsec) 2.1.7 under it, and their logging facades:
# commons-logging (WSS4J's) and slf4j (Santuario's), bound to slf4j-nop: nothing logged in
# the measured path.
jars="/usr/share/java/wss4j.jar /usr/share/java/xmlsec.jar /usr/share/java/commons-logging.jar
      /usr/share/java/slf4j-api.jar /usr/share/java/slf4j-nop.jar"

missing=""
for tool in java javac jar; do
    command -v $tool >/dev/null || missing="$missing $tool"
done
for jar in $jars; do
    [ -f "$jar" ] || missing="$missing $jar"
done
if [ -n "$missing" ]; then
    echo "Java peer not built, missing:$missing (Debian: apt-get install openjdk-17-jdk-headless libwss4j-java)" >&2
    exit 3
fi
[ "$out" = "--check" ] && exit 0

mkdir -p "$out/classes"
javac -nowarn -d "$out/classes" -cp "$(echo $jars | tr ' ' ':')" "$here/EchoPeer.java"
printf 'Main-Class: EchoPeer\nClass-Path: %s\n' "$(echo $jars)" > "$out/manifest.txt"
jar --create --file "$out/echo-peer.jar" --manifest "$out/manifest.txt" -C "$out/classes" .
echo "$out/echo-peer.jar"
