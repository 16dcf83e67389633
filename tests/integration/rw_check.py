#!/usr/bin/python3
"""Checks on what rwsink received (its --dump file) for test_remote_write.sh.

  rw_check.py same SCRAPE DUMP      every series of the scrape (text format,
                                    self-metrics left out) arrived, and its
                                    newest sample has the scrape's value
  rw_check.py keys DUMP [PREFIX]    prints "series ts" of every sample
                                    received (sorted, unique)
  rw_check.py stale DUMP PREFIX     every series whose name starts with
                                    PREFIX ended with a StaleNaN marker
  rw_check.py meta DUMP NAME TYPE   the dump has '# TYPE NAME TYPE'
"""
import re
import sys

PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def series_key(text):
    """name{a="b",...} -> (name, sorted label pairs) whatever their order."""
    if "{" not in text:
        return (text, ())
    name, rest = text.split("{", 1)
    return (name, tuple(sorted(PAIR.findall(rest.rstrip("}")))))


def split_sample(line):
    """'series value [ts]' with labels that may hold spaces."""
    end = line.rfind("}")
    head = line[: end + 1] if end >= 0 else line.split(" ", 1)[0]
    fields = line[len(head):].split()
    return head, fields


def dump_natives(path):
    """series key -> {"count": text, "sum": text} of its newest native histogram."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("# HISTOGRAM "):
                continue
            head, fields = split_sample(line[len("# HISTOGRAM "):].rstrip("\n"))
            kv = dict(x.split("=", 1) for x in fields[1:] if "=" in x)
            out[series_key(head)] = {"count": kv.get("count", kv.get("count_float")), "sum": kv.get("sum")}
    return out


def dump_samples(path, prefix=""):
    """(key, ts) -> value text, and key -> newest (ts, value text)."""
    all_, newest = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or not line.startswith(prefix):
                continue
            head, fields = split_sample(line)
            key, value, ts = series_key(head), fields[0], int(fields[1])
            all_[(key, ts)] = value
            if key not in newest or ts >= newest[key][0]:
                newest[key] = (ts, value)
    return all_, newest


def same_number(a, b):
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def cmd_same(scrape, dump):
    _, newest = dump_samples(dump)
    natives = dump_natives(dump)
    bad = 0
    n = 0
    with open(scrape, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or line.startswith("otlp_broker_"):
                continue
            head, fields = split_sample(line)
            key = series_key(head)
            n += 1
            # An exponential histogram: classic buckets for a text scrape,
            # a native histogram for remote write; its count and sum agree.
            base = re.sub(r"_(bucket|sum|count)$", "", key[0])
            native = natives.get((base, tuple(p for p in key[1] if p[0] != "le")))
            if native is not None:
                part = key[0][len(base) + 1:]
                if part != "bucket" and not same_number(native[part], fields[0]):
                    print(f"native {part}: {head}: scrape {fields[0]}, received {native[part]}")
                    bad += 1
                continue
            got = newest.get(key)
            if got is None:
                print(f"missing: {head}")
                bad += 1
            elif not same_number(got[1], fields[0]):
                print(f"value: {head}: scrape {fields[0]}, received {got[1]}")
                bad += 1
    print(f"{n} series compared, {bad} problems")
    return 1 if bad or n == 0 else 0


def cmd_keys(dump, prefix=""):
    all_, _ = dump_samples(dump, prefix)
    for (key, ts) in sorted(all_):
        labels = ",".join(f'{k}="{v}"' for k, v in key[1])
        print(f"{key[0]}{{{labels}}} {ts}")
    return 0


def cmd_stale(dump, prefix):
    _, newest = dump_samples(dump, prefix)
    live = [k for k, (ts, v) in newest.items() if v != "StaleNaN"]
    for k in live:
        print(f"not stale: {k}")
    print(f"{len(newest)} series, {len(live)} without a final StaleNaN")
    return 1 if live or not newest else 0


def cmd_meta(dump, name, typ):
    want = f"# TYPE {name} {typ}"
    with open(dump, encoding="utf-8") as f:
        return 0 if any(line.rstrip("\n") == want for line in f) else 1


if __name__ == "__main__":
    cmds = {"same": cmd_same, "keys": cmd_keys, "stale": cmd_stale, "meta": cmd_meta}
    if len(sys.argv) < 3 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    sys.exit(cmds[sys.argv[1]](*sys.argv[2:]))
