"""Tests of the otlpbroker Python module and the calculator example.

Run by tests/integration/test_python.sh (with /usr/bin/python3, which has
Debian's python3-zmq, python3-protobuf and python3-flask) against a real
broker: OB_PULL, OB_REPLY (ZeroMQ endpoints) and OB_URL (http://127.0.0.1:PORT)
come from the environment.  Without them only the aggregation tests run.

  Aggregation   the module's request, decoded: sums per attribute set,
                histogram buckets, gauges, cumulative across flushes,
                exact under concurrent recording, errors.
  Calculator    clients/python/examples/calculator.py driven by Flask's
                test client, flushed over ZeroMQ, scraped from the broker.
"""
import importlib.util
import math
import os
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


def scrape():
    with urllib.request.urlopen(URL + "/metrics", timeout=10) as r:
        return r.read().decode()


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


@unittest.skipUnless(PULL and REPLY and URL, "needs a broker (OB_PULL, OB_REPLY, OB_URL)")
class Broker(unittest.TestCase):
    def load_example(self):
        spec = importlib.util.spec_from_file_location("calculator", EXAMPLE)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    def test_calculator_over_push(self):
        calc = self.load_example()
        client = otlpbroker.Client(PULL, service_name="calculator", interval=0)
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
            # A delta sum is refused per point: partial_success comes back.
            req = svc.ExportMetricsServiceRequest()
            rm = req.resource_metrics.add()
            m = rm.scope_metrics.add().metrics.add()
            m.name = "py.delta"
            m.sum.aggregation_temporality = 1
            m.sum.is_monotonic = True
            dp = m.sum.data_points.add()
            dp.time_unix_nano = time.time_ns()
            dp.as_double = 1
            r = client.send(req.SerializeToString())
            self.assertEqual(r.rejected, 1)
            self.assertIn("delta", r.message)
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
