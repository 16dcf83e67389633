#!/usr/bin/env bash
# The status page (GET / and /status) and its JSON (/api/v1/status,
# /api/v1/names): listeners and translators, store usage, rejections by
# reason, the name map (OTLP metric -> Prometheus family, series, last
# update, last rejection) and the last rejections, after the calculator, a
# refused point and a refused request.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
start_broker
"$MKPAYLOAD" calculator >"$TMP/calc.bin"
"$MKPAYLOAD" unspecified >"$TMP/unspec.bin"
check "calculator" 200 "$(post /v1/metrics "$TMP/calc.bin")"
check "a point without temporality" 200 "$(post /v1/metrics "$TMP/unspec.bin")"
printf 'not protobuf' >"$TMP/bad.bin"
check "a request that does not decode" 400 "$(post /v1/metrics "$TMP/bad.bin")"

ctype() { curl -fsS -o /dev/null -w '%{content_type}' "$(url "$1")"; }
check "GET / is HTML" "text/html; charset=utf-8" "$(ctype /)"
check "GET /status is HTML" "text/html; charset=utf-8" "$(ctype /status)"
check "/api/v1/names is JSON" "application/json" "$(ctype /api/v1/names)"
curl -fsS "$(url /api/v1/names)" >"$TMP/names.json"
curl -fsS "$(url /api/v1/status)" >"$TMP/status.json"
curl -fsS "$(url /)" >"$TMP/page.html"
while IFS= read -r line; do
    case $line in ok*) ok "${line#ok   }" ;; *) bad "${line#FAIL }" ;; esac
done < <("$PY" - "$TMP/names.json" "$TMP/status.json" "$TMP/page.html" "$PORT" <<'PY'
import json, sys
from html.parser import HTMLParser

def check(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": " + detail))

names = {(n["listener"], n["metric"]): n for n in json.load(open(sys.argv[1]))["names"]}
op = names.get(("http", "calc_operation"), {})
check("names: calc_operation became calc_operation_total with its 2 series",
      op.get("family") == "calc_operation_total" and op.get("series") == 2 and
      op.get("type") == "sum" and op.get("temporality") == "cumulative" and
      op.get("service") == "calculator" and op.get("rejected") == 0, str(op))
h = names.get(("http", "http.server.duration"), {})
check("names: the histogram, its unit and family",
      h.get("family") == "http_server_duration_milliseconds" and h.get("unit") == "ms" and
      h.get("series") == 1, str(h))
u = names.get(("http", "requests.unspecified"), {})
check("names: the refused metric says why", u.get("family") == "" and u.get("rejected") == 1 and
      u.get("last_reason") == "temporality" and u.get("temporality") == "unspecified" and
      u.get("last_rejection"), str(u))

st = json.load(open(sys.argv[2]))
ls = {l["listener"]: l for l in st["listeners"]}
check("status: the http listener with its bound port and translator",
      ls["http"]["address"] == "127.0.0.1:" + sys.argv[4] and
      ls["http"]["translator"] == "underscore_escaping_with_suffixes", str(ls))
check("status: store usage", st["store"]["series"] >= 5 and st["store"]["series_max"] == 20000,
      str(st["store"]))
check("status: rejected points by reason", st["rejected"]["temporality"] == 1, str(st["rejected"]))
what = [(r["what"], r["metric"], r["from"]) for r in st["rejections"]]
check("status: the last rejections, newest first",
      what[:2] == [("malformed", "", "127.0.0.1"), ("temporality", "requests.unspecified", "127.0.0.1")],
      str(what))

class Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.table, self.row, self.cell = {}, None, None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = self.tables.setdefault(a.get("id"), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
            self.table.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell)
            self.cell = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

p = Cells()
p.feed(open(sys.argv[3], encoding="utf-8").read())
rows = p.tables.get("names", [])
hdr = rows[0] if rows else []
found = [dict(zip(hdr, r)) for r in rows[1:]]
calc = [r for r in found if r.get("OTLP metric") == "calc_operation"]
check("page: the name map row of calc_operation",
      calc and calc[0]["Prometheus family"] == "calc_operation_total" and calc[0]["series"] == "2",
      str(calc))
check("page: listeners, store, reasons and rejections tables",
      all(t in p.tables for t in ("listeners", "store", "reasons", "rejections")), str(list(p.tables)))
PY
)
# A real browser: headless Chromium loads the page while the calculator is
# pushed again and again, writes a screenshot under the build tree, and its
# DOM has the calculator's names.
if command -v chromium >/dev/null; then
    ( for r in $(seq 2 40); do
          "$MKPAYLOAD" calculator --round "$r" >"$TMP/round.bin" && post /v1/metrics "$TMP/round.bin" >/dev/null
      done ) &
    PUSHER=$!
    CHROME=(chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage
            --user-data-dir="$TMP/chrome" --window-size=1280,1600)
    timeout 60 "${CHROME[@]}" --screenshot="$OB_BUILD/status-page.png" "$(url /)" >/dev/null 2>&1
    [ -s "$OB_BUILD/status-page.png" ] && ok "chromium: screenshot $OB_BUILD/status-page.png" ||
        bad "chromium wrote no screenshot"
    timeout 60 "${CHROME[@]}" --dump-dom "$(url /)" >"$TMP/dom.html" 2>/dev/null
    wait "$PUSHER" 2>/dev/null || true
    grep -q '<td>calc_operation</td>' "$TMP/dom.html" && grep -q '<td>calc_operation_total</td>' "$TMP/dom.html" &&
        ok "chromium: the DOM has the calculator's metric and family" || bad "chromium DOM: $(head -c 300 "$TMP/dom.html")"
    ms=$(sed -n 's/.*<span id="rendered">\([0-9]*\)<.*/\1/p' "$TMP/dom.html")
    [ -n "$ms" ] && ok "chromium: rendered in $ms ms (figure, not a limit)" || bad "chromium: no render time"
else
    bad "chromium is not installed (make deps)"
fi

stop_broker && ok "clean stop" || bad "clean stop"
finish
