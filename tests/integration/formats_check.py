"""Reads two expositions of the same broker and checks them with Debian's
python3-prometheus-client: the OpenMetrics one with its strict OpenMetrics
parser, the text one with its text parser, and that both carry the same
samples (name, labels, value).  Usage: formats_check.py OM_FILE TEXT_FILE.
Prints one line per check; exit 1 when one failed."""
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families as text_parse


def samples(families):
    out = {}
    for fam in families:
        for s in fam.samples:
            if s.name.endswith("_created"):
                continue
            key = (s.name, tuple(sorted(s.labels.items())))
            out[key] = s.value
    return out


def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def main():
    om_text = open(sys.argv[1], encoding="utf-8").read()
    text = open(sys.argv[2], encoding="utf-8").read()
    failed = 0
    try:
        om = samples(om_parse(om_text))
        print("ok   the strict OpenMetrics parser reads it (%d samples)" % len(om))
    except Exception as e:  # the parser's own message says what is wrong
        print("FAIL OpenMetrics parser: %s" % e)
        return 1
    try:
        tx = samples(text_parse(text))
        print("ok   the text parser reads it (%d samples)" % len(tx))
    except Exception as e:
        print("FAIL text parser: %s" % e)
        return 1
    # A histogram without a sum has no _count in OpenMetrics (its +Inf bucket
    # says the count); everything else is the same in both.
    missing = [k for k in tx if k not in om and not k[0].endswith("_count")]
    extra = [k for k in om if k not in tx]
    differ = [k for k in om if k in tx and not same(om[k], tx[k])]
    for what, keys in (("missing from OpenMetrics", missing), ("only in OpenMetrics", extra),
                       ("with other values", differ)):
        if keys:
            failed = 1
            print("FAIL %d samples %s, e.g. %s" % (len(keys), what, keys[:3]))
    if not failed:
        print("ok   same samples and values in both formats")
    return failed


sys.exit(main())
