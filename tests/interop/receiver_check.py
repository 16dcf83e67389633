#!/usr/bin/python3
"""Compares what a remote-write receiver stored with what the broker holds.

  receiver_check.py rounds SCRAPE ROUNDS FORMAT FILE
      SCRAPE: the broker's /metrics after every round; ROUNDS: "K:TS_MS,..."
      (mkpayload calculator --round K --ts-ms TS_MS, in any order; "1:TS_MS"
      for payloads pushed once); FILE: the
      receiver's raw samples of those series, FORMAT "prom" (a matrix from
      /api/v1/query of SELECTOR[RANGE]) or "vm" (JSON lines from
      /api/v1/export).  Every series the scrape exposes (the broker's own
      otlp_broker_* aside) must be in FILE with exactly its labels, nothing
      else may be, and each must hold one sample per round: at the newest the
      scraped value, at round K the value of round K (every calculator value
      is K times that of round 1, target_info is 1: K/Kmax of the scraped
      value).
  receiver_check.py grid N T T0_MS STEP_MS FILE
      FILE: /api/v1/export JSON lines of rw_shuffle (mkpayload shuffled): the
      N x T samples (series "%04d" % s, time T0 + t*STEP, value s*1000+t),
      each exactly once, nothing else.

Prints one summary line; exit 0 when everything matched, else 1 with the
first differences.
"""
import json
import re
import sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else m.group(1), v)


def key(labels):
    return tuple(sorted(labels.items()))


def show(k):
    d = dict(k)
    name = d.pop('__name__', '')
    return name + '{' + ','.join('%s="%s"' % kv for kv in sorted(d.items())) + '}'


def parse_scrape(path):
    out = {}
    for line in open(path, encoding='utf-8'):
        line = line.rstrip('\n')
        if not line or line.startswith('#') or line.startswith('otlp_broker_'):
            continue
        m = LINE.match(line)
        if not m:
            raise SystemExit('receiver_check: cannot parse exposition line: %r' % line)
        labels = {'__name__': m.group(1)}
        body = m.group(2) or ''
        pos = 0
        while pos < len(body):
            lm = LABEL.match(body, pos)
            if not lm:
                raise SystemExit('receiver_check: cannot parse labels: %r' % line)
            labels[lm.group(1)] = unescape(lm.group(2))
            pos = lm.end()
        out[key(labels)] = float(m.group(3))
    return out


def parse_receiver(fmt, path):
    """{series key: [(ts_ms, value), ...]} as the receiver holds them."""
    out = {}
    if fmt == 'prom':
        d = json.load(open(path))
        if d.get('status') != 'success' or d['data']['resultType'] != 'matrix':
            raise SystemExit('receiver_check: not a matrix answer: %s' % open(path).read()[:300])
        for r in d['data']['result']:
            out[key(r['metric'])] = [(round(float(t) * 1000), float(v)) for t, v in r['values']]
    else:
        for line in open(path):
            if line.strip():
                r = json.loads(line)
                out.setdefault(key(r['metric']), []).extend(
                    zip(r['timestamps'], (float(v) for v in r['values'])))
    return out


def rounds_check(scrape, rounds, fmt, path):
    want = parse_scrape(scrape)
    got = parse_receiver(fmt, path)
    rounds = sorted((int(ts), int(k)) for k, ts in (r.split(':') for r in rounds.split(',')))
    kmax = rounds[-1][1]
    problems = []
    for k in sorted(set(got) - set(want)):
        problems.append('receiver has a series the broker does not expose: %s' % show(k))
    for k in sorted(set(want) - set(got)):
        problems.append('missing at the receiver: %s %g' % (show(k), want[k]))
    n = 0
    for k in sorted(set(want) & set(got)):
        latest = want[k]
        target_info = dict(k)['__name__'] == 'target_info'
        expect = [(ts, latest if target_info else latest * r / kmax) for ts, r in rounds]
        have = sorted(got[k])
        n += len(have)
        if have != expect:
            problems.append('%s: expected %s, receiver has %s' % (show(k), expect, have))
    if problems:
        print('%d problems; %s' % (len(problems), '; '.join(problems[:5])))
        return 1
    print('%d series x %d samples as the broker holds them (%d samples)' % (len(want), len(rounds), n))
    return 0


def grid(n, t, t0, step, path):
    got = parse_receiver('vm', path)
    problems, total, seen = [], 0, 0
    want_keys = {key({'__name__': 'rw_shuffle', 'job': 'shuffle', 'series': '%04d' % s}): s
                 for s in range(n)}
    for k in sorted(set(got) - set(want_keys)):
        problems.append('unexpected series %s (%d samples)' % (show(k), len(got[k])))
    for k, s in sorted(want_keys.items(), key=lambda kv: kv[1]):
        have = sorted(got.get(k, []))
        seen += len(have)
        expect = [(t0 + i * step, float(s * 1000 + i)) for i in range(t)]
        total += len(expect)
        if have != expect:
            hs, es = set(have), set(expect)
            problems.append('%s: %d samples, %d missing (first %s), %d extra (first %s)' % (
                show(k), len(have), len(es - hs), sorted(es - hs)[:2], len(have) - len(hs & es),
                sorted(hs - es)[:2]))
    if problems:
        print('%d of %d samples at the receiver; %d problems; %s' % (
            seen, total, len(problems), '; '.join(problems[:5])))
        return 1
    print('all %d samples (%d series x %d timestamps) exactly once' % (total, n, t))
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == 'rounds':
        return rounds_check(*argv[2:])
    if len(argv) == 7 and argv[1] == 'grid':
        return grid(*(int(a) for a in argv[2:6]), argv[6])
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
