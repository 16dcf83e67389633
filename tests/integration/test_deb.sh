#!/usr/bin/env bash
# make deb: the packages build, lintian finds no error, and the layout is
# Debian's (daemon in /usr/sbin, plugins under the multiarch libdir, the
# configuration a conffile in /etc, the unit, the library split in two).
# Built once, in the plain pass (the sanitizer pass builds nothing new).
source "$(dirname "$0")/lib.sh"
case $OB_BUILD in *asan*|*tsan*) ok "the packages are built in the plain pass"; finish ;; esac
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT_DIR/$OB_BUILD/debs
rm -rf "$OUT"
make -s -C "$ROOT_DIR" BUILD="$OB_BUILD" deb >"$TMP/deb.log" 2>&1 && ok "make deb" ||
    { bad "make deb: $(tail -5 "$TMP/deb.log")"; finish; }
ARCH=$(dpkg --print-architecture)
TRIPLET=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for p in otlp-broker libotlpbroker-client0 libotlpbroker-client-dev; do
    [ -s "$OUT/${p}_0.1.0_$ARCH.deb" ] && ok "package $p" || bad "no $p package"
done
lintian --tag-display-limit 0 "$OUT/otlp-broker_0.1.0_$ARCH.changes" >"$TMP/lintian.txt" 2>&1 || true
check "lintian: no errors" "" "$(grep '^E:' "$TMP/lintian.txt")"
dpkg-deb -c "$OUT/otlp-broker_0.1.0_$ARCH.deb" | awk '{print $6}' >"$TMP/files.txt"
for f in ./usr/sbin/otlp-broker ./usr/sbin/otlp-broker-inspect ./usr/bin/otlp-push \
         "./usr/lib/$TRIPLET/otlp-broker/plugins/underscore_escaping_with_suffixes.so" \
         ./etc/otlp-broker/otlp-broker.ini ./lib/systemd/system/otlp-broker.service \
         ./usr/lib/sysusers.d/otlp-broker.conf ./usr/share/man/man8/otlp-broker.8.gz; do
    grep -qx "$f" "$TMP/files.txt" && ok "otlp-broker has $f" || bad "otlp-broker lacks $f"
done
dpkg-deb --ctrl-tarfile "$OUT/otlp-broker_0.1.0_$ARCH.deb" | tar -xO ./conffiles >"$TMP/conffiles" 2>/dev/null
check "the configuration is a conffile" "/etc/otlp-broker/otlp-broker.ini" "$(cat "$TMP/conffiles")"
dpkg-deb -x "$OUT/otlp-broker_0.1.0_$ARCH.deb" "$TMP/x"
grep -q "^ExecStart=/usr/sbin/otlp-broker -c /etc/otlp-broker/otlp-broker.ini$" \
    "$TMP/x/lib/systemd/system/otlp-broker.service" && ok "the unit starts /usr/sbin/otlp-broker" ||
    bad "unit: $(grep ExecStart "$TMP/x/lib/systemd/system/otlp-broker.service")"
check "the compiled-in plugin_dir is the packaged one" \
    "plugin_dir = /usr/lib/$TRIPLET/otlp-broker/plugins" \
    "$("$TMP/x/usr/sbin/otlp-broker" --print-defaults | grep '^#plugin_dir = /' | sed 's/^#//')"
dpkg-deb -c "$OUT/libotlpbroker-client-dev_0.1.0_$ARCH.deb" >"$TMP/dev.txt"
grep -q "usr/include/otlp-broker/translator.h" "$TMP/dev.txt" &&
    ok "the -dev package has translator.h" || bad "no translator.h in -dev"
finish
