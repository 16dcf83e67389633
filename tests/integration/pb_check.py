"""Decodes the broker's protobuf exposition with Python code protoc
generates from the project's own metrics.proto, and compares it series by
series with the text exposition read by Debian's python3-prometheus-client.
Usage: pb_check.py METRICS_PB2_PY PB_FILE TEXT_FILE.  Prints one line per
check; exit 1 when one failed."""
import importlib.util
import math
import sys

from prometheus_client.parser import text_string_to_metric_families as text_parse


def load(path):
    spec = importlib.util.spec_from_file_location("metrics_pb2", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def families(pb, data):
    """The delimited MetricFamily messages of data."""
    out, i = [], 0
    while i < len(data):
        n, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        mf = pb.MetricFamily()
        mf.ParseFromString(data[i:i + n])
        i += n
        out.append(mf)
    return out


def key(name, labels):
    norm = []
    for k, v in labels.items():
        norm.append((k, float(v) if k in ("le", "quantile") else v))
    return (name, tuple(sorted(norm)))


def pb_samples(pb, fams):
    s = {}
    for mf in fams:
        for m in mf.metric:
            lab = {p.name: p.value for p in m.label}
            if mf.type == pb.HISTOGRAM:
                h = m.histogram
                count = h.sample_count_float or h.sample_count
                for b in h.bucket:
                    s[key(mf.name + "_bucket", dict(lab, le=b.upper_bound))] = (
                        b.cumulative_count_float or b.cumulative_count)
                s[key(mf.name + "_bucket", dict(lab, le=float("inf")))] = count
                s[key(mf.name + "_count", lab)] = count
                if h.HasField("sample_sum"):
                    s[key(mf.name + "_sum", lab)] = h.sample_sum
            elif mf.type == pb.SUMMARY:
                q = m.summary
                for x in q.quantile:
                    s[key(mf.name, dict(lab, quantile=x.quantile))] = x.value
                s[key(mf.name + "_count", lab)] = q.sample_count
                s[key(mf.name + "_sum", lab)] = q.sample_sum
            else:
                v = (m.counter.value if mf.type == pb.COUNTER else
                     m.gauge.value if mf.type == pb.GAUGE else m.untyped.value)
                s[key(mf.name, lab)] = v
    return s


def text_samples(text):
    s = {}
    for fam in text_parse(text):
        for x in fam.samples:
            s[key(x.name, x.labels)] = x.value
    return s


def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def main():
    pb = load(sys.argv[1])
    data = open(sys.argv[2], "rb").read()
    try:
        fams = families(pb, data)
    except Exception as e:
        print("FAIL protobuf does not decode: %s" % e)
        return 1
    got = pb_samples(pb, fams)
    print("ok   protobuf decodes: %d families, %d samples" % (len(fams), len(got)))
    want = text_samples(open(sys.argv[3], encoding="utf-8").read())
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    differ = [k for k in got if k in want and not same(got[k], want[k])]
    failed = 0
    for what, keys in (("missing from protobuf", missing), ("only in protobuf", extra),
                       ("with other values", differ)):
        if keys:
            failed = 1
            print("FAIL %d samples %s, e.g. %s" % (len(keys), what, keys[:3]))
    if not failed:
        print("ok   protobuf and text carry the same %d samples" % len(want))
    return failed


if __name__ == "__main__":
    sys.exit(main())
