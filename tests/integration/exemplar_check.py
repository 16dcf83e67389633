"""Compares the exemplars of the broker's OpenMetrics answer, read by Debian's
python3-prometheus-client (its strict OpenMetrics parser), with those of its
protobuf answer, decoded with code protoc generates from proto/.
Usage: exemplar_check.py METRICS_PB2_PY PB_FILE OM_FILE MIN_COUNT.  Prints one
line per check; exit 1 when one failed (or fewer than MIN_COUNT were seen)."""
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from pb_check import families, load  # noqa: E402  (same directory)


def key(name, labels):
    norm = tuple(sorted((k, float(v) if k == "le" else v) for k, v in labels.items()))
    return (name, norm)


def om_exemplars(text):
    out = {}
    for fam in om_parse(text):
        for s in fam.samples:
            if s.exemplar:
                e = s.exemplar
                out[key(s.name, s.labels)] = (dict(e.labels), float(e.value), float(e.timestamp))
    return out


def pb_exemplars(pb, fams):
    def ex(e):
        return ({p.name: p.value for p in e.label}, e.value,
                e.timestamp.seconds + e.timestamp.nanos / 1e9)
    out = {}
    for mf in fams:
        for m in mf.metric:
            lab = {p.name: p.value for p in m.label}
            if mf.type == pb.COUNTER and m.counter.HasField("exemplar"):
                out[key(mf.name, lab)] = ex(m.counter.exemplar)
            elif mf.type == pb.HISTOGRAM:
                for b in m.histogram.bucket:
                    if b.HasField("exemplar"):
                        out[key(mf.name + "_bucket", dict(lab, le=b.upper_bound))] = ex(b.exemplar)
    return out


def main():
    pb = load(sys.argv[1])
    got = pb_exemplars(pb, families(pb, open(sys.argv[2], "rb").read()))
    want = om_exemplars(open(sys.argv[3], encoding="utf-8").read())
    need = int(sys.argv[4])
    failed = 0
    if len(want) < need:
        print("FAIL OpenMetrics has %d exemplars, want at least %d" % (len(want), need))
        failed = 1
    else:
        print("ok   OpenMetrics exemplars parse strictly: %d" % len(want))
    differ = [k for k in want if k not in got or got[k][0] != want[k][0] or
              got[k][1] != want[k][1] or not math.isclose(got[k][2], want[k][2], abs_tol=1e-3)]
    extra = [k for k in got if k not in want]
    if differ or extra:
        failed = 1
        print("FAIL exemplars differ between OpenMetrics and protobuf: %s / only protobuf: %s" %
              (differ[:2], extra[:2]))
    else:
        print("ok   protobuf carries the same %d exemplars" % len(got))
    return failed


if __name__ == "__main__":
    sys.exit(main())
