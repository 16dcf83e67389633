"""otlpbroker: push OpenTelemetry metrics to otlp-broker over ZeroMQ.

The Python twin of the C client library (clients/c/include/otlpbroker/client.h)::

    from otlpbroker import Client

    client = Client("tcp://127.0.0.1:4319", service_name="calculator", interval=10)
    ops = client.counter("calc_operation", description="Number of calculator operations")
    ops.add(1, {"operation": "add"})
    ...
    client.close()          # flushes once more

Aggregation is an OpenTelemetry SDK's with CUMULATIVE temporality: each
instrument keeps one series per distinct attribute set (the order of the keys
does not matter) with its start time, and every flush exports every series:
counters and up-down counters as the running sum, gauges as the last value,
histograms as per-bucket counts (a value v falls in the first bucket whose
bound >= v; the last bucket is +Inf) plus count, sum, min and max.

Transport (one socket per client):
  reply=False   ZeroMQ PUSH to the broker's pull endpoint (zmq.pull):
                fire-and-forget.
  reply=True    ZeroMQ DEALER to the broker's reply endpoint (zmq.reply):
                each flush waits up to `timeout` seconds for the answer and
                returns its partial_success in a Result.

Threads: recording and instrument creation are safe from any number of
threads (each instrument has its own lock, held for a dict lookup and a few
additions).  With interval > 0 a daemon thread flushes every `interval`
seconds; its outcome goes to on_flush(result, error) and to
Client.last_error.  The module never prints.

Requires pyzmq and protobuf (Debian: python3-zmq, python3-protobuf) and the
Python code generated from proto/ by `make python` into build/python, which
must be on sys.path (PYTHONPATH=clients/python:build/python).
"""

import bisect
import math
import threading
import time

import zmq

try:
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as _svc
    from opentelemetry.proto.common.v1 import common_pb2 as _common
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as _metrics
except ImportError as _e:  # pragma: no cover - a setup problem, said clearly
    raise ImportError(
        "otlpbroker needs the Python code generated from proto/: run `make python` "
        "and put build/python on PYTHONPATH (%s)" % _e) from _e

__all__ = [
    "Client", "Result", "Counter", "UpDownCounter", "Gauge", "Histogram",
    "OtlpBrokerError", "RefusedError", "ProtocolError", "ConflictError", "LimitError",
    "DEFAULT_BOUNDS", "VERSION",
]

VERSION = "0.1.0"
DEFAULT_BOUNDS = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0,
                  2500.0, 5000.0, 7500.0, 10000.0)
DEFAULT_MAX_SERIES = 2000  # the SDK's default cardinality limit
_CUMULATIVE = _metrics.AGGREGATION_TEMPORALITY_CUMULATIVE


class OtlpBrokerError(Exception):
    """Base of the errors this module raises (besides ValueError/TypeError
    for bad arguments, TimeoutError for no answer in time)."""


class RefusedError(OtlpBrokerError):
    """The broker answered with an error frame ("malformed: ...",
    "too_large: ...", "unsupported: ...", "unavailable: ...")."""


class ProtocolError(OtlpBrokerError):
    """The answer is not an ExportMetricsServiceResponse."""


class ConflictError(OtlpBrokerError):
    """The instrument name is taken by another kind, unit or bounds."""


class LimitError(OtlpBrokerError):
    """The instrument has max_series attribute sets already."""


class Result:
    """What one flush got back.  answered: an answer came (reply mode);
    rejected/message: its partial_success; points: data points sent."""

    __slots__ = ("answered", "rejected", "message", "points")

    def __init__(self, points=0, answered=False, rejected=0, message=""):
        self.points = points
        self.answered = answered
        self.rejected = rejected
        self.message = message

    def __repr__(self):
        return "Result(points=%d, answered=%r, rejected=%d, message=%r)" % (
            self.points, self.answered, self.rejected, self.message)


# ---- attribute sets ---------------------------------------------------------------

def _canonical(attributes):
    """A hashable, order-independent key for an attribute dict.  The value's
    type is part of it: {"code": 200} and {"code": "200"} are two series, as
    in an SDK."""
    if not attributes:
        return ()
    items = []
    for k, v in attributes.items():
        if not isinstance(k, str):
            raise TypeError("attribute keys are strings, got %r" % (k,))
        if isinstance(v, bool):
            items.append((k, 1, v))
        elif isinstance(v, int):
            if not -(1 << 63) <= v < (1 << 63):
                raise ValueError("attribute %s: int out of int64 range" % k)
            items.append((k, 2, v))
        elif isinstance(v, float):
            items.append((k, 3, v))
        elif isinstance(v, str):
            items.append((k, 0, v))
        else:
            raise TypeError("attribute %s: str, bool, int or float, got %s" % (k, type(v).__name__))
    items.sort()
    return tuple(items)


def _key_values(key, out):
    """Fills a repeated KeyValue field from a canonical key."""
    for k, t, v in key:
        kv = out.add()
        kv.key = k
        if t == 0:
            kv.value.string_value = v
        elif t == 1:
            kv.value.bool_value = v
        elif t == 2:
            kv.value.int_value = v
        else:
            kv.value.double_value = v


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s: a number, got %s" % (what, type(value).__name__))
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("%s: a finite number, got %r" % (what, value))
    return value


# ---- instruments ------------------------------------------------------------------

class _Series:
    __slots__ = ("start_ns", "value", "count", "sum", "min", "max", "buckets")

    def __init__(self, n_buckets):
        self.start_ns = time.time_ns()
        self.value = 0.0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.buckets = [0] * n_buckets if n_buckets else None


class _Instrument:
    kind = None

    def __init__(self, client, name, unit, description, bounds=()):
        self._client = client
        self.name = name
        self.unit = unit or ""
        self.description = description or ""
        self.bounds = tuple(bounds)
        self._lock = threading.Lock()
        self._series = {}  # canonical key -> _Series, in creation order

    def _get(self, key):
        """The series of key, created on first use.  Lock held."""
        s = self._series.get(key)
        if s is None:
            if len(self._series) >= self._client.max_series:
                raise LimitError("%s: %d attribute sets already" % (self.name, len(self._series)))
            s = self._series[key] = _Series(len(self.bounds) + 1 if self.kind == "histogram" else 0)
        return s

    def _snapshot(self):
        """(key, start, value, count, sum, min, max, buckets) per series,
        copied under the lock so a flush never sees half an update."""
        with self._lock:
            return [(k, s.start_ns, s.value, s.count, s.sum, s.min, s.max,
                     list(s.buckets) if s.buckets else None)
                    for k, s in self._series.items()]


class Counter(_Instrument):
    """Monotonic sum: add(value >= 0, attributes)."""
    kind = "counter"

    def add(self, value, attributes=None):
        value = _number(value, self.name)
        if value < 0:
            raise ValueError("%s: a counter only goes up (%r)" % (self.name, value))
        key = _canonical(attributes)
        with self._lock:
            self._get(key).value += value


class UpDownCounter(_Instrument):
    """Non-monotonic sum: add(value, attributes), value may be negative."""
    kind = "updown"

    def add(self, value, attributes=None):
        value = _number(value, self.name)
        key = _canonical(attributes)
        with self._lock:
            self._get(key).value += value


class Gauge(_Instrument):
    """Last value: record(value, attributes)."""
    kind = "gauge"

    def record(self, value, attributes=None):
        value = _number(value, self.name)
        key = _canonical(attributes)
        with self._lock:
            s = self._get(key)
            s.value = value
            s.count = 1  # has a value

    set = record


class Histogram(_Instrument):
    """Explicit-bucket histogram: record(value, attributes)."""
    kind = "histogram"

    def record(self, value, attributes=None):
        value = _number(value, self.name)
        key = _canonical(attributes)
        b = bisect.bisect_left(self.bounds, value)  # first bound >= value
        with self._lock:
            s = self._get(key)
            s.buckets[b] += 1
            s.count += 1
            s.sum += value
            if value < s.min:
                s.min = value
            if value > s.max:
                s.max = value


# ---- the client -------------------------------------------------------------------

class Client:
    """One connection to the broker and the instruments that flush over it.

    endpoint      "tcp://127.0.0.1:4319", "ipc:///path" ...; None: no socket
                  (encode() only; flush() raises).
    service_name  resource service.name (default "unknown_service"); becomes
                  job="..." at the scrape.
    resource      further resource attributes (dict); a service.name in it wins.
    reply         False: PUSH to zmq.pull; True: DEALER to zmq.reply and wait.
    interval      background flush period in seconds; 0/None: only flush() and
                  close().
    timeout       seconds to queue a message (push) or wait for the answer
                  (reply), and to linger at close.
    on_flush      called as on_flush(result, error) after every background
                  flush, on the flush thread (error None on success).
    """

    def __init__(self, endpoint="tcp://127.0.0.1:4319", service_name=None, resource=None,
                 reply=False, interval=10.0, timeout=5.0, scope_name="otlpbroker-python",
                 max_series=DEFAULT_MAX_SERIES, on_flush=None):
        if timeout is None or not timeout > 0:
            raise ValueError("timeout must be > 0")
        if interval and interval < 0:
            raise ValueError("interval must be >= 0")
        res = {"service.name": service_name or "unknown_service"}
        res.update(resource or {})
        self._resource = _canonical(res)
        self.endpoint = endpoint
        self.reply = bool(reply)
        self.timeout = float(timeout)
        self.scope_name = scope_name
        self.max_series = int(max_series)
        self.on_flush = on_flush
        self.last_error = None
        self._lock = threading.Lock()        # the instrument table
        self._instruments = {}               # name -> instrument, in creation order
        self._flush_lock = threading.Lock()  # one flush at a time; owns the socket
        self._ctx = None
        self._sock = None
        self._closed = False
        if endpoint is not None:
            self._ctx = zmq.Context()
            try:
                self._open_socket()
            except Exception:
                self._ctx.destroy(linger=0)
                raise
        self._stop = threading.Event()
        self._thread = None
        if interval:
            self.interval = float(interval)
            self._thread = threading.Thread(target=self._flusher, name="otlpbroker-flush",
                                            daemon=True)
            self._thread.start()

    # -- instruments

    def _instrument(self, cls, name, unit, description, bounds=()):
        if not isinstance(name, str) or not name:
            raise ValueError("instrument name must be a non-empty string")
        with self._lock:
            inst = self._instruments.get(name)
            if inst is not None:
                if (type(inst) is cls and inst.unit == (unit or "") and inst.bounds == tuple(bounds)):
                    return inst
                raise ConflictError("%s is already a %s (unit %r)" % (name, inst.kind, inst.unit))
            inst = self._instruments[name] = cls(self, name, unit, description, bounds)
            return inst

    def counter(self, name, unit="", description=""):
        return self._instrument(Counter, name, unit, description)

    def updown_counter(self, name, unit="", description=""):
        return self._instrument(UpDownCounter, name, unit, description)

    def gauge(self, name, unit="", description=""):
        return self._instrument(Gauge, name, unit, description)

    def histogram(self, name, unit="", description="", bounds=None):
        """bounds: strictly ascending finite numbers; None = DEFAULT_BOUNDS."""
        bounds = DEFAULT_BOUNDS if bounds is None else tuple(_number(b, name) for b in bounds)
        if not bounds or any(b >= c for b, c in zip(bounds, bounds[1:])):
            raise ValueError("%s: bounds must be non-empty and strictly ascending" % name)
        return self._instrument(Histogram, name, unit, description, bounds)

    # -- encoding

    def _request(self):
        """(ExportMetricsServiceRequest, points) with every series now."""
        with self._lock:
            instruments = list(self._instruments.values())
        now = time.time_ns()
        req = _svc.ExportMetricsServiceRequest()
        rm = req.resource_metrics.add()
        _key_values(self._resource, rm.resource.attributes)
        sm = rm.scope_metrics.add()
        sm.scope.name = self.scope_name
        sm.scope.version = VERSION
        points = 0
        for inst in instruments:
            rows = inst._snapshot()
            if inst.kind == "gauge":
                rows = [r for r in rows if r[3]]
            if not rows:
                continue
            m = sm.metrics.add()
            m.name = inst.name
            if inst.unit:
                m.unit = inst.unit
            if inst.description:
                m.description = inst.description
            if inst.kind == "histogram":
                m.histogram.aggregation_temporality = _CUMULATIVE
                dps = m.histogram.data_points
            elif inst.kind == "gauge":
                dps = m.gauge.data_points
            else:
                m.sum.aggregation_temporality = _CUMULATIVE
                m.sum.is_monotonic = inst.kind == "counter"
                dps = m.sum.data_points
            for key, start, value, count, total, lo, hi, buckets in rows:
                dp = dps.add()
                _key_values(key, dp.attributes)
                dp.start_time_unix_nano = start
                dp.time_unix_nano = now
                if inst.kind == "histogram":
                    dp.count = count
                    dp.sum = total
                    dp.bucket_counts.extend(buckets)
                    dp.explicit_bounds.extend(inst.bounds)
                    if count:
                        dp.min = lo
                        dp.max = hi
                else:
                    dp.as_double = value
                points += 1
        if not points:
            return None, 0
        return req, points

    def encode(self):
        """The request flush() would send (bytes), without sending it."""
        req, _ = self._request()
        return req.SerializeToString() if req is not None else b""

    # -- transport

    def _open_socket(self):
        s = self._ctx.socket(zmq.DEALER if self.reply else zmq.PUSH)
        ms = int(self.timeout * 1000)
        s.setsockopt(zmq.LINGER, ms)
        s.setsockopt(zmq.SNDTIMEO, ms)
        if "[" in self.endpoint:
            s.setsockopt(zmq.IPV6, 1)
        try:
            s.connect(self.endpoint)
        except zmq.ZMQError:
            s.close(linger=0)
            raise
        self._sock = s

    def _transmit(self, frames, result):
        """Sends one request; in reply mode waits for its answer.  Flush lock held."""
        if self._sock is None:
            if self.endpoint is None:
                raise OtlpBrokerError("no endpoint: this client only encodes")
            self._open_socket()  # after a timeout
        try:
            self._sock.send_multipart(frames, copy=False)
        except zmq.Again:
            raise TimeoutError("could not queue the message within %.3g s" % self.timeout)
        if not self.reply:
            return result
        if not self._sock.poll(int(self.timeout * 1000), zmq.POLLIN):
            # A late answer must not be taken for the next request's: start
            # over on a fresh socket (lazy pirate), as the C library does.
            self._sock.close(linger=0)
            self._sock = None
            raise TimeoutError("no answer from %s within %.3g s" % (self.endpoint, self.timeout))
        answer = self._sock.recv_multipart()
        result.answered = True
        if len(answer) == 1:
            r = _svc.ExportMetricsServiceResponse()
            try:
                r.ParseFromString(answer[0])
            except Exception as e:  # protobuf's DecodeError
                raise ProtocolError("answer is not an ExportMetricsServiceResponse: %s" % e)
            if r.HasField("partial_success"):
                result.rejected = r.partial_success.rejected_data_points
                result.message = r.partial_success.error_message
            return result
        if len(answer) == 2 and answer[0] == b"error":
            raise RefusedError(answer[1].decode("utf-8", "replace"))
        raise ProtocolError("answer of %d frames" % len(answer))

    def flush(self):
        """Encodes every series and sends one request (none when nothing was
        recorded).  Returns a Result; raises TimeoutError, RefusedError,
        ProtocolError or zmq.ZMQError."""
        with self._flush_lock:
            if self.endpoint is None:
                raise OtlpBrokerError("no endpoint: this client only encodes")
            req, points = self._request()
            result = Result(points=points)
            if req is None:
                return result
            return self._transmit([req.SerializeToString()], result)

    def send(self, body, encoding=None):
        """Sends a ready ExportMetricsServiceRequest (bytes) as is; encoding
        "gzip" when body is compressed.  As flush() otherwise."""
        with self._flush_lock:
            frames = [encoding.encode(), body] if encoding else [body]
            return self._transmit(frames, Result())

    def _flusher(self):
        while not self._stop.wait(self.interval):
            result, error = None, None
            try:
                result = self.flush()
            except Exception as e:  # reported, never printed: the library's rule
                error = e
            self.last_error = error
            if self.on_flush is not None:
                self.on_flush(result, error)

    def close(self):
        """Stops the background thread, flushes once more, waits up to
        timeout for queued messages to leave, closes the socket.  Returns the
        final flush's Result (None without an endpoint); raises its error
        after everything is closed."""
        if self._closed:
            return None
        self._closed = True
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        result, error = None, None
        if self.endpoint is not None:
            try:
                result = self.flush()
            except Exception as e:
                error = e
            with self._flush_lock:
                if self._sock is not None:
                    self._sock.close()  # lingers up to timeout for what is queued
                    self._sock = None
                self._ctx.term()
        if error is not None:
            raise error
        return result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
