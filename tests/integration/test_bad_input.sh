#!/usr/bin/env bash
# Malformed, oversized, gzip-bomb and wrong-type bodies: each gets its answer,
# is counted, and the broker keeps serving what it stored.
source "$(dirname "$0")/lib.sh"
start_broker -o limits.max_body_bytes=1MiB

T0=$(( $(date +%s) * 1000 - 30000 ))
"$MKPAYLOAD" calculator --ts-ms "$T0" --round 1 >"$TMP/r1.bin"
check "good body" 200 "$(post /v1/metrics "$TMP/r1.bin")"

printf 'this is not protobuf \xff\xff\xff\xff' >"$TMP/garbage.bin"
check "malformed protobuf -> 400" 400 "$(post /v1/metrics "$TMP/garbage.bin")"
grep -qi 'protobuf' "$TMP/resp" && ok "400 names the problem" || bad "400 body: $(cat "$TMP/resp")"

check "truncated protobuf -> 400" 400 "$(head -c 100 "$TMP/r1.bin" >"$TMP/trunc.bin"; post /v1/metrics "$TMP/trunc.bin")"
check "text/plain -> 415" 415 "$(CT=text/plain post /v1/metrics "$TMP/r1.bin")"
check "unknown Content-Encoding -> 415" 415 "$(post /v1/metrics "$TMP/r1.bin" -H 'Content-Encoding: br')"

head -c $((2 * 1024 * 1024)) /dev/urandom >"$TMP/big.bin"
check "2 MiB body over 1 MiB limit -> 413" 413 "$(post /v1/metrics "$TMP/big.bin")"
check "2 MiB chunked body -> 413" 413 "$(post /v1/metrics "$TMP/big.bin" -H 'Transfer-Encoding: chunked')"

head -c $((512 * 1024 * 1024)) /dev/zero | gzip -c >"$TMP/bomb.gz"
check "gzip bomb (512 MiB of zeros) -> 413" 413 \
    "$(post /v1/metrics "$TMP/bomb.gz" -H 'Content-Encoding: gzip')"
printf '\x1f\x8b\x08\x00garbage' >"$TMP/badgz.gz"
check "corrupt gzip -> 400" 400 "$(post /v1/metrics "$TMP/badgz.gz" -H 'Content-Encoding: gzip')"

check "GET /v1/metrics -> 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$(url /v1/metrics)")"
check "unknown path -> 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$(url /nope)")"
check "healthy" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$(url /-/healthy)")"

"$MKPAYLOAD" unspecified --ts-ms "$T0" >"$TMP/unspec.bin"
check "sum without temporality answered 200 with partial_success" 200 "$(post /v1/metrics "$TMP/unspec.bin")"
[ -s "$TMP/resp" ] && ok "partial_success present" || bad "no partial_success for no temporality"
grep -q 'temporality' "$TMP/resp" && ok "partial_success names temporality" || bad "message: $(cat "$TMP/resp")"
grep -q 'http: 1 data points rejected (temporality) from 127\.0\.0\.1, first metric requests\.unspecified' \
    "$TMP/broker.log" && ok "the log says which points were rejected, why and from whom" ||
    bad "no rejection line: $(grep -i reject "$TMP/broker.log" | tail -2)"

scrape >"$TMP/after.txt"
check "stored series survive bad input" 2 "$(grep -c '^calc_operation_total{' "$TMP/after.txt")"
for o in malformed too_large unsupported; do
    n=$(grep "^otlp_broker_requests_total{frontend=\"http\",outcome=\"$o\"}" "$TMP/after.txt" | awk '{print $2}')
    [ -n "$n" ] && [ "$n" -ge 1 ] && ok "outcome $o counted ($n)" || bad "outcome $o not counted"
done
n=$(grep -F 'otlp_broker_data_points_rejected_total{frontend="http",reason="temporality"}' "$TMP/after.txt" | awk '{print $2}')
check "rejected temporality points counted" 1 "$n"

stop_broker && ok "clean stop" || bad "clean stop"
finish
