"""Tests of the otlpbroker Python module and the calculator example.

Run by tests/integration/test_python.sh (with /usr/bin/python3, which has
Debian's python3-zmq, python3-protobuf and python3-flask) against a real
broker: OB_PULL, OB_REPLY (ZeroMQ endpoints) and OB_URL (http://127.0.0.1:PORT)
come from the environment, and OB_BROKER, OB_PLUGINS (the binary and its
plugin directory) for the test that runs a broker of its own.  Without them
only the aggregation and fake-broker tests run.

  Aggregation   the module's request, decoded: sums per attribute set,
                histogram buckets, gauges, cumulative across flushes,
                exact under concurrent recording, errors; mode selection.
  FakeBroker    pyzmq sockets bound by the test act as the broker: sequence
                frames and the END frame of push and stream clients, stream
                mode's resends, duplicate answers, window and close timeouts,
                reply mode discarding a late answer.
  Broker        the real broker: the calculator example over push, reply
                mode, sequence counters (lost, duplicate, reordered) for push
                clients and hand-made frames, stream mode end to end.
  Restart       stream mode across a kill -9 and restart of a broker the test
                starts itself: every acknowledged message is stored.
"""
import importlib.util
import math
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import zmq

import otlpbroker
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "clients", "python", "examples", "calculator.py")
PULL = os.environ.get("OB_PULL")
REPLY = os.environ.get("OB_REPLY")
URL = os.environ.get("OB_URL")
BROKER = os.environ.get("OB_BROKER")
PLUGINS = os.environ.get("OB_PLUGINS")
SEQ = struct.Struct("<4sBBHQQ")   # the sequence frame: magic, version, flags, 0, sender, number


def decode(client):
    req = svc.ExportMetricsServiceRequest()
    req.ParseFromString(client.encode())
    return req


def attrs(kvs):
    out = {}
    for kv in kvs:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which)
    return out


def metrics(req):
    (rm,) = req.resource_metrics
    (sm,) = rm.scope_metrics
    return {m.name: m for m in sm.metrics}


def points(metric):
    kind = metric.WhichOneof("data")
    return {tuple(sorted(attrs(dp.attributes).items())): dp
            for dp in getattr(metric, kind).data_points}


def scrape(url=None):
    with urllib.request.urlopen((url or URL) + "/metrics", timeout=10) as r:
        return r.read().decode()


def sample(text, name):
    """The value of the exposition sample `name` (with its labels), or None."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line[len(name) + 1:])
    return None


def seq_counts(endpoint, url=None):
    """The broker's lost, duplicate and reordered counts for endpoint, and the
    senders it follows on the endpoint's socket kind."""
    text = scrape(url)
    out = {k: sample(text, 'otlp_broker_zmq_messages_%s_total{endpoint="%s"}' % (k, endpoint))
           for k in ("lost", "duplicate", "reordered")}
    kind = "reply" if endpoint == REPLY or endpoint.endswith("/reply") else "pull"
    out["senders"] = sample(text, 'otlp_broker_zmq_senders{socket="%s"}' % kind)
    return out


def wait_settled(endpoint, senders, url=None, timeout=10.0):
    """Polls until the broker follows at most `senders` senders on the
    endpoint's kind (a closed sender was settled and forgotten); returns the
    counts then (or at the timeout, settled False)."""
    deadline = time.monotonic() + timeout
    while True:
        c = seq_counts(endpoint, url)
        if c["senders"] <= senders or time.monotonic() > deadline:
            return c, c["senders"] <= senders
        time.sleep(0.1)


def zmq_accepted(text):
    """ZeroMQ requests the broker took (wholly or in part)."""
    return sum(sample(text, 'otlp_broker_requests_total{frontend="zmq",outcome="%s"}' % o)
               for o in ("ok", "partial"))


def gauge_request(name, labels, value, service):
    """An ExportMetricsServiceRequest (bytes) of one gauge point."""
    req = svc.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    kv = rm.resource.attributes.add()
    kv.key = "service.name"
    kv.value.string_value = service
    m = rm.scope_metrics.add().metrics.add()
    m.name = name
    dp = m.gauge.data_points.add()
    for k, v in sorted(labels.items()):
        a = dp.attributes.add()
        a.key = k
        a.value.string_value = v
    dp.time_unix_nano = time.time_ns()
    dp.as_double = value
    return req.SerializeToString()


def gauge_values(text, family, job):
    """{label i: value} of the exposition's samples family{i="...",job="job"}."""
    pat = re.compile(r'^%s\{i="([^"]*)",job="%s"\} (\S+)$' % (re.escape(family), re.escape(job)))
    out = {}
    for line in text.splitlines():
        m = pat.match(line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def seq_frame(sender, seq, flags=0):
    return SEQ.pack(b"\x00OBQ", 1, flags, 0, sender, seq)


def parse_seq(frame):
    """(sender, number, flags) of a sequence frame; fails the caller's
    assertion with a clear message otherwise (AssertionError)."""
    assert len(frame) == SEQ.size, "not a 24-byte sequence frame: %r" % (frame,)
    magic, version, flags, zero, sender, seq = SEQ.unpack(frame)
    assert (magic, version, zero) == (b"\x00OBQ", 1, 0), "bad sequence frame %r" % (frame,)
    return sender, seq, flags


def ipc_endpoint(tag):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "ob-py-%s-%d" % (tag, os.getpid()))
    return "ipc://" + path


def recv(sock, timeout=10.0):
    """One message, or an AssertionError when none came within timeout."""
    if not sock.poll(int(timeout * 1000), zmq.POLLIN):
        raise AssertionError("nothing received within %g s" % timeout)
    return sock.recv_multipart()


def wait_lines(prefix, expected, timeout=5.0):
    """The scrape's lines starting with prefix, once they equal expected
    (sorted), or whatever they are when timeout passed."""
    deadline = time.monotonic() + timeout
    while True:
        got = sorted(l for l in scrape().splitlines() if l.startswith(prefix))
        if got == sorted(expected) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


class Aggregation(unittest.TestCase):
    def setUp(self):
        self.c = otlpbroker.Client(None, service_name="unit", resource={"host.name": "h1"},
                                   interval=0)

    def tearDown(self):
        self.c.close()

    def test_counter_sums_per_attribute_set(self):
        ops = self.c.counter("calc_operation", description="Number of calculator operations")
        ops.add(1, {"operation": "add"})
        ops.add(2, {"operation": "add"})
        ops.add(1, {"operation": "sub"})
        ops.add(5, {"b": "2", "a": "1"})
        ops.add(5, {"a": "1", "b": "2"})   # same set, other key order
        ops.add(1, {"code": 200})          # int and str values are two sets
        ops.add(1, {"code": "200"})
        ops.add(4)
        m = metrics(decode(self.c))["calc_operation"]
        self.assertEqual(m.description, "Number of calculator operations")
        self.assertTrue(m.sum.is_monotonic)
        self.assertEqual(m.sum.aggregation_temporality, 2)  # cumulative
        p = points(m)
        self.assertEqual(p[(("operation", "add"),)].as_double, 3)
        self.assertEqual(p[(("operation", "sub"),)].as_double, 1)
        self.assertEqual(p[(("a", "1"), ("b", "2"))].as_double, 10)
        self.assertEqual(p[(("code", 200),)].as_double, 1)
        self.assertEqual(p[(("code", "200"),)].as_double, 1)
        self.assertEqual(p[()].as_double, 4)
        self.assertEqual(len(p), 6)
        for dp in p.values():
            self.assertGreater(dp.time_unix_nano, 0)
            self.assertLessEqual(dp.start_time_unix_nano, dp.time_unix_nano)

    def test_updown_and_gauge(self):
        active = self.c.updown_counter("http.server.active_requests", unit="{request}")
        active.add(1, {"http.method": "GET"})
        active.add(1, {"http.method": "GET"})
        active.add(-3, {"http.method": "GET"})
        temp = self.c.gauge("room.temperature", unit="Cel")
        temp.record(20.5, {"room": "lab"})
        temp.record(21.5, {"room": "lab"})
        temp.set(-4, {"room": "roof"})
        m = metrics(decode(self.c))
        self.assertFalse(m["http.server.active_requests"].sum.is_monotonic)
        self.assertEqual(m["http.server.active_requests"].unit, "{request}")
        self.assertEqual(points(m["http.server.active_requests"])[(("http.method", "GET"),)].as_double, -1)
        g = points(m["room.temperature"])
        self.assertEqual(g[(("room", "lab"),)].as_double, 21.5)
        self.assertEqual(g[(("room", "roof"),)].as_double, -4)

    def test_histogram_buckets_cumulative_across_flushes(self):
        h = self.c.histogram("http.server.duration", unit="ms", bounds=[10, 50, 100])
        for v in (3, 10, 10.5, 50, 99, 100, 101, 5000):
            h.record(v, {"route": "/add"})
        dp = points(metrics(decode(self.c))["http.server.duration"])[(("route", "/add"),)]
        # A value equal to a bound belongs to that bound's bucket (le).
        self.assertEqual(list(dp.bucket_counts), [2, 2, 2, 2])
        self.assertEqual(list(dp.explicit_bounds), [10, 50, 100])
        self.assertEqual(dp.count, 8)
        self.assertEqual(dp.sum, 3 + 10 + 10.5 + 50 + 99 + 100 + 101 + 5000)
        self.assertEqual((dp.min, dp.max), (3, 5000))
        start = dp.start_time_unix_nano
        h.record(1, {"route": "/add"})
        dp2 = points(metrics(decode(self.c))["http.server.duration"])[(("route", "/add"),)]
        self.assertEqual(list(dp2.bucket_counts), [3, 2, 2, 2])   # cumulative
        self.assertEqual(dp2.count, 9)
        self.assertEqual(dp2.min, 1)
        self.assertEqual(dp2.start_time_unix_nano, start)        # same start
        d = self.c.histogram("default.bounds")
        d.record(7)
        dp3 = points(metrics(decode(self.c))["default.bounds"])[()]
        self.assertEqual(list(dp3.explicit_bounds), list(otlpbroker.DEFAULT_BOUNDS))
        self.assertEqual(dp3.bucket_counts[2], 1)   # (5, 10]
        self.assertEqual(sum(dp3.bucket_counts), 1)

    def test_resource_and_scope(self):
        self.c.gauge("g").record(1)
        req = decode(self.c)
        (rm,) = req.resource_metrics
        self.assertEqual(attrs(rm.resource.attributes), {"service.name": "unit", "host.name": "h1"})
        self.assertEqual(rm.scope_metrics[0].scope.name, "otlpbroker-python")

    def test_nothing_recorded_sends_nothing(self):
        self.c.counter("idle")
        self.assertEqual(self.c.encode(), b"")

    def test_concurrent_recording_is_exact(self):
        ops = self.c.counter("ops")
        h = self.c.histogram("lat", bounds=[1, 2])
        n_threads, n = 8, 5000

        def work(t):
            for i in range(n):
                ops.add(1, {"thread": t % 2})
                h.record(i % 3, {"thread": t % 2})

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        snapshots = []
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):   # encode while recording
            snapshots.append(decode(self.c))
        for t in threads:
            t.join()
        m = metrics(decode(self.c))
        for par in (0, 1):
            self.assertEqual(points(m["ops"])[(("thread", par),)].as_double, n_threads // 2 * n)
            dp = points(m["lat"])[(("thread", par),)]
            self.assertEqual(dp.count, n_threads // 2 * n)
            self.assertEqual(sum(dp.bucket_counts), dp.count)
        for req in snapshots:  # every snapshot is self-consistent
            for dp in points(metrics(req).get("lat", m["lat"])).values():
                self.assertEqual(sum(dp.bucket_counts), dp.count)

    def test_errors(self):
        ops = self.c.counter("ops")
        self.assertIs(self.c.counter("ops"), ops)
        with self.assertRaises(otlpbroker.ConflictError):
            self.c.gauge("ops")
        with self.assertRaises(otlpbroker.ConflictError):
            self.c.counter("ops", unit="ms")
        self.c.histogram("h", bounds=[1, 2])
        with self.assertRaises(otlpbroker.ConflictError):
            self.c.histogram("h", bounds=[1, 3])
        with self.assertRaises(ValueError):
            ops.add(-1)
        with self.assertRaises(ValueError):
            ops.add(math.nan)
        with self.assertRaises(TypeError):
            ops.add("1")
        with self.assertRaises(TypeError):
            ops.add(1, {"k": [1]})
        with self.assertRaises(ValueError):
            self.c.histogram("bad", bounds=[2, 1])
        with self.assertRaises(ValueError):
            self.c.histogram("inf", bounds=[1, math.inf])
        with self.assertRaises(otlpbroker.OtlpBrokerError):
            self.c.flush()   # no endpoint

    def test_series_limit(self):
        c = otlpbroker.Client(None, interval=0, max_series=3)
        g = c.gauge("g")
        for i in range(3):
            g.record(i, {"i": i})
        with self.assertRaises(otlpbroker.LimitError):
            g.record(9, {"i": 9})
        g.record(5, {"i": 0})   # existing sets keep working
        self.assertEqual(points(metrics(decode(c))["g"])[(("i", 0),)].as_double, 5)
        c.close()


    def test_mode_selection(self):
        cases = (
            (dict(endpoint="ipc:///nonexistent/ob-py-reply"), "stream"),
            (dict(endpoint="tcp://127.0.0.1:9"), "push"),
            (dict(endpoint="ipc:///nonexistent/ob-py-reply", reply=True), "reply"),
            (dict(endpoint="ipc:///nonexistent/ob-py-pull", mode="push"), "push"),
            (dict(endpoint="tcp://127.0.0.1:9", mode="stream"), "stream"),
            (dict(endpoint=None), "push"),
        )
        for kw, mode in cases:
            c = otlpbroker.Client(interval=0, **kw)
            try:
                self.assertEqual(c.mode, mode, kw)
                self.assertEqual(c.reply, mode == "reply", kw)
                self.assertNotEqual(c.sender_id, 0)
                self.assertLess(c.sender_id, 1 << 64)
                self.assertEqual(c.stats(), {"sent": 0, "acked": 0, "resent": 0, "refused": 0,
                                             "rejected_points": 0, "in_flight": 0})
            finally:
                c.close()   # nothing recorded: nothing sent, no END
        with self.assertRaises(ValueError):
            otlpbroker.Client("tcp://127.0.0.1:9", mode="pull")
        with self.assertRaises(ValueError):
            otlpbroker.Client("tcp://127.0.0.1:9", mode="stream", reply=True)
        with self.assertRaises(ValueError):
            otlpbroker.Client("tcp://127.0.0.1:9", mode="stream", window=0)
        with self.assertRaises(ValueError):
            otlpbroker.Client("tcp://127.0.0.1:9", mode="stream", resend=0)
        a = otlpbroker.Client(None, interval=0)
        b = otlpbroker.Client(None, interval=0)
        self.assertNotEqual(a.sender_id, b.sender_id)   # 2^-64 to fail


class FakeBroker(unittest.TestCase):
    """pyzmq sockets bound here play the broker, to see the frames exactly."""

    def setUp(self):
        self.ctx = zmq.Context()
        self.socks = []
        self.paths = []

    def tearDown(self):
        for s in self.socks:
            s.close(linger=0)
        self.ctx.term()
        for ep in self.paths:
            try:
                os.unlink(ep[len("ipc://"):])
            except FileNotFoundError:
                pass

    def bind(self, kind, tag):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        ep = ipc_endpoint(tag)
        s.bind(ep)
        self.socks.append(s)
        self.paths.append(ep)
        return s, ep

    def until_end(self, sock, n_data=0, identity=False):
        """Receives until an END frame came and n_data other messages; returns
        those messages in arrival order and the END's (sender, count, flags)
        (and its routing identity).  A push client's END comes over a
        connection of its own, so ZeroMQ's fair queueing may hand it out
        between them."""
        msgs, end = [], None
        while end is None or len(msgs) < n_data:
            m = recv(sock)
            body = m[1:] if identity else m
            if len(body) == 1 and len(body[0]) == SEQ.size and parse_seq(body[0])[2] & 1:
                self.assertIsNone(end, "a second END")
                end, end_ident = parse_seq(body[0]), m[0]
            else:
                msgs.append(m)
        return (msgs, end, end_ident) if identity else (msgs, end)

    def test_push_frames_and_end(self):
        pull, ep = self.bind(zmq.PULL, "fake-pull")
        c = otlpbroker.Client(ep, mode="push", interval=0)
        n = c.counter("n")
        for i in range(5):
            n.add(1)
            r = c.flush()
            self.assertEqual(r.seq, i)
            self.assertFalse(r.answered)
        raw = c.send(b"\x0a\x00", encoding="identity")
        self.assertEqual(raw.seq, 5)
        self.assertEqual(c.stats()["sent"], 6)
        final = c.close()   # flushes once more: message 6
        self.assertEqual((final.seq, final.unacked), (6, 0))
        msgs, end = self.until_end(pull, 7)
        self.assertEqual(end, (c.sender_id, 7, 1))     # END: the count, flags = END
        self.assertEqual(len(msgs), 7)
        for i, m in enumerate(msgs):
            self.assertEqual(parse_seq(m[0]), (c.sender_id, i, 0))
            self.assertEqual(m[0][:8], b"\x00OBQ\x01\x00\x00\x00")
            self.assertEqual(m[0][8:16], struct.pack("<Q", c.sender_id))
        self.assertEqual([len(m) for m in msgs], [2] * 5 + [3, 2])
        self.assertEqual(msgs[5][1:], [b"identity", b"\x0a\x00"])
        for i in (4, 6):
            req = svc.ExportMetricsServiceRequest()
            req.ParseFromString(msgs[i][1])
            self.assertEqual(metrics(req)["n"].sum.data_points[0].as_double, 5)

    def test_stream_resend_and_duplicate_answers(self):
        router, ep = self.bind(zmq.ROUTER, "fake-stream")
        acks = []
        c = otlpbroker.Client(ep, mode="stream", window=4, resend=0.2, timeout=10, interval=0,
                              on_ack=lambda r, e: acks.append((r, e)))
        try:
            r0 = c.send(b"zero")
            r1 = c.send(b"one")
            self.assertEqual((r0.seq, r0.answered, r1.seq, r1.answered), (0, False, 1, False))
            m0, m1 = recv(router), recv(router)
            ident = m0[0]
            self.assertEqual(parse_seq(m0[1]), (c.sender_id, 0, 0))
            self.assertEqual(m0[2:], [b"zero"])
            self.assertEqual(parse_seq(m1[1]), (c.sender_id, 1, 0))
            router.send_multipart([ident, m1[1], b""])   # 1 answered, all accepted
            self.assertFalse(c.wait(0.6))   # 0 stays in flight: resent meanwhile
            self.assertEqual([r.seq for r, _ in acks], [1])
            resent = recv(router)
            self.assertEqual(resent, m0)    # the same frames, the same number
            self.assertGreaterEqual(c.stats()["resent"], 1)
            resp = svc.ExportMetricsServiceResponse()
            resp.partial_success.rejected_data_points = 2
            resp.partial_success.error_message = "two rejected"
            for _ in range(2):               # answered twice: the second is ignored
                router.send_multipart([ident, m0[1], resp.SerializeToString()])
            router.send_multipart([ident, m1[1], b""])   # and 1 once more, late
            self.assertTrue(c.wait(5))
            self.assertEqual([r.seq for r, _ in acks], [1, 0])
            r, e = acks[1]
            self.assertIsNone(e)
            self.assertTrue(r.answered)
            self.assertEqual((r.rejected, r.message), (2, "two rejected"))
            r2 = c.send(b"two")
            m2 = recv(router)
            while parse_seq(m2[1])[1] != 2:   # resends of 0 may still be queued
                m2 = recv(router)
            router.send_multipart([ident, m2[1], b"error", b"malformed: not protobuf"])
            self.assertTrue(c.wait(5))
            r, e = acks[2]
            self.assertEqual(r.seq, r2.seq)
            self.assertIsInstance(e, otlpbroker.RefusedError)
            self.assertEqual(str(e), "malformed: not protobuf")
            st = c.stats()
            self.assertEqual((st["sent"], st["acked"], st["refused"], st["rejected_points"],
                              st["in_flight"]), (3, 3, 1, 2, 0))
        finally:
            result = c.close()
        self.assertEqual(result.unacked, 0)
        self.assertIs(c.last_result, result)
        self.assertEqual(len(acks), 3)
        _, end, end_ident = self.until_end(router, identity=True)
        self.assertEqual(end, (c.sender_id, 3, 1))
        self.assertEqual(end_ident, ident)   # last on the client's own socket

    def test_stream_window_blocks_until_answers(self):
        router, ep = self.bind(zmq.ROUTER, "fake-window")
        stop = threading.Event()
        seen = []

        def broker():   # answers everything, on a thread of its own
            while not stop.is_set():
                if router.poll(50, zmq.POLLIN):
                    m = router.recv_multipart()
                    sender, seq, flags = parse_seq(m[1])
                    if not flags:   # not the END
                        seen.append(seq)
                    router.send_multipart([m[0], m[1], b""])

        t = threading.Thread(target=broker)
        t.start()
        acks = []
        try:
            c = otlpbroker.Client(ep, mode="stream", window=1, resend=30, timeout=10,
                                  interval=0, on_ack=lambda r, e: acks.append((r.seq, e)))
            for i in range(20):
                self.assertEqual(c.send(b"m%d" % i).seq, i)
                self.assertLessEqual(c.stats()["in_flight"], 1)
            self.assertEqual(c.close().unacked, 0)
        finally:
            stop.set()
            t.join()
        self.assertEqual(acks, [(i, None) for i in range(20)])
        self.assertEqual(seen, list(range(20)))   # no resend was needed
        self.assertEqual(c.stats(), {"sent": 20, "acked": 20, "resent": 0, "refused": 0,
                                     "rejected_points": 0, "in_flight": 0})

    def test_stream_timeouts_and_unacked_close(self):
        router, ep = self.bind(zmq.ROUTER, "fake-silent")
        c = otlpbroker.Client(ep, mode="stream", window=2, resend=60, timeout=0.3, interval=0)
        self.assertEqual((c.send(b"a").seq, c.send(b"b").seq), (0, 1))
        with self.assertRaises(TimeoutError):
            c.send(b"c")          # the window is full and nothing answers
        self.assertEqual(c.stats()["sent"], 2)   # that one was not sent, not numbered
        with self.assertRaises(TimeoutError):
            c.close()
        self.assertEqual(c.last_result.unacked, 2)
        msgs, end = self.until_end(router, 2, identity=True)[:2]
        self.assertEqual(end, (c.sender_id, 2, 1))
        self.assertEqual([parse_seq(m[1])[1] for m in msgs], [0, 1])

    def test_reply_discards_late_answer(self):
        router, ep = self.bind(zmq.ROUTER, "fake-reply")
        timed_out = threading.Event()
        failure = []

        def broker():
            try:
                a = recv(router)
                timed_out.wait(10)
                late = svc.ExportMetricsServiceResponse()
                late.partial_success.rejected_data_points = 7
                router.send_multipart([a[0], a[1], late.SerializeToString()])
                b = recv(router)
                router.send_multipart([b[0], b[1], b""])
            except Exception as e:
                failure.append(e)

        t = threading.Thread(target=broker)
        t.start()
        try:
            c = otlpbroker.Client(ep, mode="reply", timeout=0.5, interval=0)
            with self.assertRaises(TimeoutError):
                c.send(b"first")
            timed_out.set()
            c.timeout = 10
            r = c.send(b"second")   # the late answer to "first" comes first: skipped
            self.assertEqual((r.seq, r.answered, r.rejected), (1, True, 0))
            self.assertEqual(c.close().unacked, 0)
        finally:
            timed_out.set()
            t.join()
        self.assertEqual(failure, [])
        self.assertEqual(c.stats()["acked"], 1)


@unittest.skipUnless(PULL and REPLY and URL, "needs a broker (OB_PULL, OB_REPLY, OB_URL)")
class Broker(unittest.TestCase):
    def load_example(self):
        spec = importlib.util.spec_from_file_location("calculator", EXAMPLE)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    def test_calculator_over_push(self):
        calc = self.load_example()
        client = otlpbroker.Client(PULL, service_name="calculator", interval=0, mode="push")
        app = calc.create_app(client)
        web = app.test_client()
        for path, result in (("/add?a=1&b=2", 3), ("/add?a=2.5&b=2.5", 5), ("/add?a=0&b=0", 0),
                             ("/subtract?a=10&b=4", 6), ("/multiply?a=3&b=4", 12),
                             ("/divide?a=1&b=4", 0.25)):
            r = web.get(path)
            self.assertEqual(r.status_code, 200, path)
            self.assertEqual(r.get_json()["result"], result, path)
        self.assertEqual(web.get("/divide?a=1&b=0").status_code, 400)
        self.assertEqual(web.get("/add?a=x&b=1").status_code, 400)
        self.assertEqual(web.get("/nothing").status_code, 404)
        self.assertEqual(client.flush().points, 4 + 7 + 1)   # ops, durations by route and status, active

        expected = [
            'calc_operation_total{job="calculator",operation="add"} 3',
            'calc_operation_total{job="calculator",operation="divide"} 1',
            'calc_operation_total{job="calculator",operation="multiply"} 1',
            'calc_operation_total{job="calculator",operation="subtract"} 1',
        ]
        self.assertEqual(wait_lines("calc_operation_total{", expected), sorted(expected))
        counts = wait_lines("http_server_duration_milliseconds_count{", [
            'http_server_duration_milliseconds_count{http_method="GET",http_route="/add",'
            'http_status_code="200",job="calculator"} 3',
            'http_server_duration_milliseconds_count{http_method="GET",http_route="/add",'
            'http_status_code="400",job="calculator"} 1',
            'http_server_duration_milliseconds_count{http_method="GET",http_route="/divide",'
            'http_status_code="200",job="calculator"} 1',
            'http_server_duration_milliseconds_count{http_method="GET",http_route="/divide",'
            'http_status_code="400",job="calculator"} 1',
            'http_server_duration_milliseconds_count{http_method="GET",'
            'http_status_code="404",job="calculator"} 1',
            'http_server_duration_milliseconds_count{http_method="GET",http_route="/multiply",'
            'http_status_code="200",job="calculator"} 1',
            'http_server_duration_milliseconds_count{http_method="GET",http_route="/subtract",'
            'http_status_code="200",job="calculator"} 1',
        ])
        self.assertEqual(len(counts), 7, counts)
        self.assertIn('http_server_duration_milliseconds_count{http_method="GET",http_route="/add",'
                      'http_status_code="200",job="calculator"} 3', counts)
        text = scrape()
        self.assertIn('# TYPE http_server_duration_milliseconds histogram', text)
        self.assertIn('# HELP calc_operation_total Number of calculator operations', text)
        active = [l for l in text.splitlines() if l.startswith("http_server_active_requests{")]
        self.assertEqual(active, ['http_server_active_requests{http_method="GET",job="calculator"} 0'])
        inf = [l for l in text.splitlines()
               if l.startswith('http_server_duration_milliseconds_bucket{http_method="GET",'
                               'http_route="/add",http_status_code="200",job="calculator",le="+Inf"}')]
        self.assertEqual(inf, ['http_server_duration_milliseconds_bucket{http_method="GET",'
                               'http_route="/add",http_status_code="200",job="calculator",'
                               'le="+Inf"} 3'])

        # More requests later: the cumulative sum grows, one more flush on close.
        web.get("/add?a=1&b=1")
        client.close()
        self.assertIn('calc_operation_total{job="calculator",operation="add"} 4',
                      wait_lines('calc_operation_total{job="calculator",operation="add"}',
                                 ['calc_operation_total{job="calculator",operation="add"} 4']))

    def test_reply_answers_and_background_flush(self):
        results = []
        done = threading.Event()

        def on_flush(result, error):
            results.append((result, error))
            done.set()

        with otlpbroker.Client(REPLY, service_name="pyreply", reply=True, interval=0.1,
                               on_flush=on_flush) as client:
            client.counter("py.requests").add(7, {"k": "v"})
            self.assertTrue(done.wait(5), "no background flush")
            r = client.flush()
            self.assertTrue(r.answered)
            self.assertEqual((r.rejected, r.points), (0, 1))
            # A sum without temporality is refused per point: partial_success comes back.
            req = svc.ExportMetricsServiceRequest()
            rm = req.resource_metrics.add()
            m = rm.scope_metrics.add().metrics.add()
            m.name = "py.unspecified"
            m.sum.is_monotonic = True
            dp = m.sum.data_points.add()
            dp.time_unix_nano = time.time_ns()
            dp.as_double = 1
            r = client.send(req.SerializeToString())
            self.assertEqual(r.rejected, 1)
            self.assertIn("temporality unspecified", r.message)
            with self.assertRaises(otlpbroker.RefusedError) as cm:
                client.send(b"\xff\xff not protobuf")
            self.assertTrue(str(cm.exception).startswith("malformed:"), str(cm.exception))
        first_result, first_error = results[0]
        self.assertIsNone(first_error)
        self.assertTrue(first_result.answered)
        self.assertIn('py_requests_total{job="pyreply",k="v"} 7', scrape())

    def test_timeout_without_broker(self):
        ipc = "ipc://" + os.path.join(os.environ.get("TMPDIR", "/tmp"), "ob-py-nobody-%d" % os.getpid())
        c = otlpbroker.Client(ipc, reply=True, interval=0, timeout=0.2)
        c.gauge("g").record(1)
        t0 = time.monotonic()
        with self.assertRaises(TimeoutError):
            c.flush()
        self.assertLess(time.monotonic() - t0, 2)
        with self.assertRaises(TimeoutError):
            c.close()   # the final flush times out too, but everything is closed

    def test_push_sequence_counters_clean(self):
        # A push client's numbered messages, END at close: nothing lost,
        # duplicated or reordered; every point ingested.
        before = seq_counts(PULL)
        text = scrape()
        points0 = sample(text, 'otlp_broker_data_points_received_total{frontend="zmq"}')
        ok0 = zmq_accepted(text)
        c = otlpbroker.Client(PULL, mode="push", service_name="pypushseq", interval=0)
        g = c.gauge("py.pushseq")
        sent_points, n = 0, 100
        for i in range(n):
            g.record(i, {"i": "%03d" % i})   # cumulative: flush i carries i + 1 series
            r = c.flush()
            self.assertEqual(r.seq, i)
            sent_points += r.points
        final = c.close()                   # one more flush: message n
        self.assertEqual(final.seq, n)
        sent_points += final.points
        self.assertEqual(c.stats()["sent"], n + 1)
        expected = {"%03d" % i: float(i) for i in range(n)}
        deadline = time.monotonic() + 10
        while True:
            text = scrape()
            got_points = sample(text, 'otlp_broker_data_points_received_total{frontend="zmq"}')
            if got_points - points0 >= sent_points or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(got_points - points0, sent_points)
        self.assertEqual(zmq_accepted(text) - ok0, n + 1)
        self.assertEqual(gauge_values(text, "py_pushseq", "pypushseq"), expected)
        after, settled = wait_settled(PULL, before["senders"])
        self.assertTrue(settled, "the sender was not forgotten after its END: %r" % after)
        self.assertEqual({k: after[k] - before[k] for k in ("lost", "duplicate", "reordered")},
                         {"lost": 0, "duplicate": 0, "reordered": 0})

    def test_duplicates_and_reorders_counted(self):
        # Hand-made sequence frames 0, 1, 1, 3, 2 from one sender, then END:
        # exactly one duplicate, one reordered, nothing lost.
        before = seq_counts(PULL)
        sender = secrets.randbits(63) | 1
        bodies = {i: gauge_request("py.handmade", {"i": str(i)}, i, "pyhandmade")
                  for i in range(4)}
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 5000)
        try:
            push.connect(PULL)
            for i in (0, 1, 1, 3, 2):
                push.send_multipart([seq_frame(sender, i), bodies[i]])
        finally:
            push.close()
        ctx.term()   # every message left
        deadline = time.monotonic() + 10
        while True:
            now = seq_counts(PULL)
            if (now["duplicate"] - before["duplicate"] >= 1 and
                    now["reordered"] - before["reordered"] >= 1) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        # END: 4 messages (0..3), all came: the broker forgets the sender.
        ctx = zmq.Context()
        end = ctx.socket(zmq.PUSH)
        end.setsockopt(zmq.LINGER, 5000)
        try:
            end.connect(PULL)
            end.send(seq_frame(sender, 4, flags=1))
        finally:
            end.close()
        ctx.term()
        after, settled = wait_settled(PULL, before["senders"])
        self.assertTrue(settled, "the sender was not forgotten after its END: %r" % after)
        self.assertEqual({k: after[k] - before[k] for k in ("lost", "duplicate", "reordered")},
                         {"lost": 0, "duplicate": 1, "reordered": 1})
        self.assertEqual(gauge_values(scrape(), "py_handmade", "pyhandmade"),
                         {str(i): float(i) for i in range(4)})

    def test_stream_all_acknowledged(self):
        before = seq_counts(REPLY)
        acks = {}
        n = 500

        def on_ack(result, error):
            self.assertTrue(result.answered)
            self.assertNotIn(result.seq, acks)   # each answer once
            acks[result.seq] = (result.rejected, error)

        c = otlpbroker.Client(REPLY, mode="stream", window=16, timeout=30, interval=0,
                              on_ack=on_ack)
        seqs = {}
        try:
            for i in range(n):
                r = c.send(gauge_request("py.stream", {"i": "%03d" % i}, i, "pystream"))
                self.assertFalse(r.answered)
                seqs[r.seq] = i
                st = c.stats()
                self.assertLessEqual(st["in_flight"], 16)
                self.assertEqual(st["sent"], st["acked"] + st["in_flight"])
            self.assertTrue(c.wait())
        finally:
            result = c.close()
        self.assertEqual(result.unacked, 0)
        self.assertIs(c.last_result, result)
        self.assertEqual(sorted(seqs), list(range(n)))
        self.assertEqual(acks, {s: (0, None) for s in range(n)})
        st = c.stats()
        self.assertEqual((st["sent"], st["acked"], st["refused"], st["rejected_points"],
                          st["in_flight"]), (n, n, 0, 0, 0))
        self.assertGreaterEqual(st["resent"], 0)
        self.assertEqual(gauge_values(scrape(), "py_stream", "pystream"),
                         {"%03d" % i: float(i) for i in range(n)})
        after, settled = wait_settled(REPLY, before["senders"])
        self.assertTrue(settled, "the sender was not forgotten after its END: %r" % after)
        self.assertEqual(after["lost"] - before["lost"], 0)
        # Resends (if any answer took over a second) arrive as duplicates;
        # one still queued when the last answer came may be dropped at close.
        self.assertLessEqual(after["duplicate"] - before["duplicate"], st["resent"])


class BrokerProcess:
    """A broker of the test's own, started as lib.sh's start_broker does:
    its own shared-memory store, ipc endpoints and a free HTTP port."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.store = "/ob-py-restart-%d" % os.getpid()
        self.pull = "ipc://" + os.path.join(tmp, "pull")
        self.reply = "ipc://" + os.path.join(tmp, "reply")
        self.proc = None
        self.url = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log_path = os.path.join(self.tmp, "broker-%d.log" % self.starts)
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [BROKER, "-o", "http.listen=127.0.0.1:0", "-o", "grpc.listen=127.0.0.1:0",
                 "-o", "store.path=" + self.store,
                 "-o", "translator.plugin_dir=" + PLUGINS, "-o", "store.max_series=20000",
                 "-o", "zmq.pull=" + self.pull, "-o", "zmq.reply=" + self.reply,
                 "-o", "broker.log_level=info"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(log_path) as f:
                ports = re.findall(r"listening on http://127\.0\.0\.1:(\d+)", f.read())
            if ports:
                self.url = "http://127.0.0.1:" + ports[-1]
                try:
                    with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                        if r.status == 200:
                            return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        with open(log_path) as f:
            raise AssertionError("broker did not start:\n" + f.read())

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """SIGTERM and wait; the exit status (0: a clean stop)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -signal.SIGKILL

    def cleanup(self):
        self.stop()
        try:
            os.unlink("/dev/shm" + self.store)
        except FileNotFoundError:
            pass


@unittest.skipUnless(BROKER and PLUGINS, "needs the broker binary (OB_BROKER, OB_PLUGINS)")
class Restart(unittest.TestCase):
    def test_stream_across_broker_restart(self):
        # ~2000 messages of a unique series each; the broker is killed with
        # -9 after 500 answers and started again on the same store and
        # endpoints; the client resends what was not answered.  Every
        # acknowledged message is stored, and close() leaves none unacked.
        n, kill_after = 2000, 500
        tmp = tempfile.mkdtemp(prefix="ob-py-restart.", dir=os.environ.get("TMPDIR", "/tmp"))
        broker = BrokerProcess(tmp)
        acks = {}
        enough = threading.Event()   # kill_after answers came
        killed = threading.Event()
        restarted = threading.Event()
        failures = []

        def on_ack(result, error):
            acks.setdefault(result.seq, error)
            if len(acks) >= kill_after:
                enough.set()

        def killer():
            try:
                if not enough.wait(120):
                    raise AssertionError("never got %d answers" % kill_after)
                broker.kill9()
                killed.set()
                broker.start()
            except BaseException as e:
                failures.append(e)
                killed.set()
            finally:
                restarted.set()

        thread = threading.Thread(target=killer, name="killer")
        client = None
        try:
            broker.start()
            thread.start()
            client = otlpbroker.Client(broker.reply, mode="stream", window=64, resend=0.5,
                                       timeout=60, interval=0, on_ack=on_ack)
            seqs = {}
            for i in range(n):
                if i == n // 2:
                    # Mid-stream for sure: read answers until the broker is down.
                    while not killed.is_set():
                        if client.wait(0.05):
                            time.sleep(0.01)
                r = client.send(gauge_request("py.restart", {"i": "%04d" % i}, i, "pyrestart"))
                seqs[r.seq] = i
            self.assertTrue(restarted.wait(60), "the broker was not restarted")
            self.assertEqual(failures, [])
            result = client.close()
            client = None
            self.assertEqual(result.unacked, 0)
            self.assertEqual(broker.starts, 2)
            self.assertEqual(sorted(seqs), list(range(n)))
            self.assertEqual(len(acks), n)
            text = scrape(broker.url)
            stored = gauge_values(text, "py_restart", "pyrestart")
            acked_ok = [seqs[s] for s, error in acks.items() if error is None]
            missing = [i for i in acked_ok if stored.get("%04d" % i) != float(i)]
            self.assertEqual(missing, [], "acknowledged but not stored")
            self.assertEqual(len(acked_ok), n, "error answers: %r" % {
                s: str(e) for s, e in acks.items() if e is not None})
        finally:
            if thread.is_alive():   # failed early: let the killer finish now
                enough.set()
                thread.join(60)
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
            rc = broker.stop()
            broker.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0, "the restarted broker did not stop cleanly")


if __name__ == "__main__":
    unittest.main(verbosity=2)
