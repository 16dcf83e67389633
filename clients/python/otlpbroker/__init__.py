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

Transport (one socket per client), by `mode`:
  "push"    ZeroMQ PUSH to the broker's pull endpoint (zmq.pull):
            fire-and-forget, the fastest; nothing is confirmed.  Over ipc://
            with libzmq <= 4.3.5 a sender that closes while the broker is
            behind can lose the tail of what it sent (libzmq issue 4660); the
            broker counts such losses (otlp_broker_zmq_messages_lost_total).
  "stream"  ZeroMQ DEALER to the broker's reply endpoint (zmq.reply):
            acknowledged at nearly push speed.  Up to `window` messages are in
            flight unanswered; flush() returns once its message is sent and
            blocks only while the window is full.  Answers are read whenever
            the client is called (flush, send, wait, close, the background
            flush) and reported to on_ack(result, error); a message unanswered
            for `resend` seconds is sent again (the broker stores a resend
            once).  close() waits up to `timeout` for every answer.
  "reply"   ZeroMQ DEALER to the broker's reply endpoint (zmq.reply), one
            request at a time: each flush waits up to `timeout` seconds for
            its answer and returns its partial_success in a Result.  The
            simplest and the slowest.
  Which: "stream" when every message must be confirmed (or resent) without
  paying a round trip per flush; "reply" when each flush's outcome is wanted
  before going on; "push" when losing an occasional message is acceptable, or
  over tcp://.  Without a mode: "reply" if reply=True, else "stream" for an
  ipc:// endpoint (which must then be the broker's zmq.reply endpoint) and
  "push" for any other.

Every message starts with a sequence frame (the broker's ob_zmq.h has the wire
format): the client's sender id, random and drawn once per Client, and the
message's number, 0 for the first and one more per new message (a resend keeps
its number).  From the numbers the broker counts, per endpoint, messages lost,
duplicated and reordered.  At close an END frame says how many messages were
sent, so that the broker can count what never came: in push mode over a fresh
connection to the same endpoint, once the data socket is closed and what it
held has left (within `timeout`), since the tail of the old connection is what
may be lost; in the DEALER modes last on their own socket.

Threads: recording and instrument creation are safe from any number of
threads (each instrument has its own lock, held for a dict lookup and a few
additions).  Sockets are used by one caller at a time (a lock).  With
interval > 0 a daemon thread flushes every `interval` seconds; its outcome
goes to on_flush(result, error) and to Client.last_error.  The module never
prints.

Requires pyzmq and protobuf (Debian: python3-zmq, python3-protobuf) and the
Python code generated from proto/ by `make python` into build/python, which
must be on sys.path (PYTHONPATH=clients/python:build/python).
"""

import bisect
import collections
import math
import secrets
import struct
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
    "DEFAULT_BOUNDS", "VERSION", "MODES",
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
    """What one flush (or send) got back.

    points       data points sent (0: nothing was recorded, nothing sent)
    seq          the message's sequence number (None: nothing was sent)
    answered     an answer came: always in reply mode; in stream mode only in
                 the Result handed to on_ack (flush() returns before)
    rejected, message   the answer's partial_success
    unacked      close() in stream mode: messages never acknowledged (0 when
                 every one was; then close() raises TimeoutError)
    """

    __slots__ = ("answered", "rejected", "message", "points", "seq", "unacked")

    def __init__(self, points=0, answered=False, rejected=0, message="", seq=None):
        self.points = points
        self.answered = answered
        self.rejected = rejected
        self.message = message
        self.seq = seq
        self.unacked = 0

    def __repr__(self):
        return "Result(points=%d, seq=%r, answered=%r, rejected=%d, message=%r, unacked=%d)" % (
            self.points, self.seq, self.answered, self.rejected, self.message, self.unacked)


# ---- sequence frames (the broker's ob_zmq_seq.h) ----------------------------------

MODES = ("push", "reply", "stream")
DEFAULT_WINDOW = 256
DEFAULT_RESEND = 1.0
_SEQ = struct.Struct("<4sBBHQQ")   # magic, version, flags, 0, sender id, number
_SEQ_MAGIC = b"\x00OBQ"
_SEQ_VERSION = 1
_SEQ_END = 0x01
_SEQ_SET = 0x02
_SET = struct.Struct("<4sBBHQQQ")  # magic, version, SET, 0, sender id, base, mask


def _seq_frame(sender, seq, flags=0):
    return _SEQ.pack(_SEQ_MAGIC, _SEQ_VERSION, flags, 0, sender, seq)


def _parse_seq(frame):
    """(sender, seq, flags) of a sequence frame, or None when it is not one."""
    if len(frame) != _SEQ.size:
        return None
    magic, version, flags, zero, sender, seq = _SEQ.unpack(frame)
    if magic != _SEQ_MAGIC or version != _SEQ_VERSION or zero or flags & ~_SEQ_END or not sender:
        return None
    return sender, seq, flags


def _groups(answer):
    """Splits an answer message into its groups (the broker batches them):
    yields (sender, numbers, flags, frames after the group's first frame).
    A group starts at a sequence frame (one number, echoed) or a set frame
    (the numbers base + i of the bits i of a 64-bit mask, all answered alike).
    Raises ProtocolError when the message does not start with either."""
    start = None
    for i, frame in enumerate(answer):
        head = None
        if len(frame) == _SET.size and frame[:4] == _SEQ_MAGIC:
            magic, version, flags, zero, sender, base, mask = _SET.unpack(frame)
            if version == _SEQ_VERSION and flags == _SEQ_SET and not zero:
                head = (sender, [base + b for b in range(64) if mask >> b & 1], flags)
        elif len(frame) == _SEQ.size:
            parsed = _parse_seq(frame)
            if parsed is not None:
                head = (parsed[0], [parsed[1]], parsed[2])
        if head is None:
            if start is None:
                raise ProtocolError("answer without a sequence frame (a broker older than "
                                    "this client?)")
            continue
        if start is not None:
            yield cur + (answer[start + 1:i],)
        start, cur = i, head
    if start is not None:
        yield cur + (answer[start + 1:],)


def _new_sender_id():
    while True:
        sender = secrets.randbits(64)
        if sender:
            return sender


def _parse_response(frame, result):
    """Fills result from an ExportMetricsServiceResponse frame."""
    r = _svc.ExportMetricsServiceResponse()
    try:
        r.ParseFromString(frame)
    except Exception as e:  # protobuf's DecodeError
        raise ProtocolError("answer is not an ExportMetricsServiceResponse: %s" % e)
    if r.HasField("partial_success"):
        result.rejected = r.partial_success.rejected_data_points
        result.message = r.partial_success.error_message
    return result


class _InFlight:
    """A stream-mode message sent and not answered yet."""
    __slots__ = ("frames", "points", "due")

    def __init__(self, frames, points, due):
        self.frames = frames
        self.points = points
        self.due = due   # monotonic time of the next resend


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
    mode          how messages go (module docstring):
                    "push"    PUSH to zmq.pull, fire-and-forget: fastest,
                              nothing confirmed; over ipc:// with libzmq
                              <= 4.3.5 a close while the broker is behind can
                              lose messages (the broker counts them).
                    "stream"  DEALER to zmq.reply, acknowledged at nearly push
                              speed, `window` messages in flight, resent after
                              `resend` seconds without an answer.
                    "reply"   DEALER to zmq.reply, one request at a time, each
                              flush waits for its answer: simplest, slowest.
                  None: "reply" if reply is true, else "stream" for ipc://
                  endpoints (the endpoint is then the broker's zmq.reply) and
                  "push" for the others.
    reply         True: mode "reply" (the older spelling of it).
    interval      background flush period in seconds; 0/None: only flush() and
                  close().
    timeout       seconds to queue a message (push), to wait for the answer
                  (reply) or for room in the window (stream), to wait for the
                  outstanding answers at close (stream), and to linger at close.
    on_flush      called as on_flush(result, error) after every background
                  flush, on the flush thread (error None on success).
    window        stream: messages in flight unanswered, at most (default 256).
    resend        stream: seconds without an answer before a message is sent
                  again, with the same frames (default 1.0).
    on_ack        stream: called as on_ack(result, error) for each answer, on
                  whichever thread called the client when it was read, with
                  the client's socket lock held (so it must not call flush,
                  send, wait or close).  result.seq says which message,
                  result.answered is True, rejected/message are its
                  partial_success; error is None, a RefusedError for an error
                  answer or a ProtocolError for an answer that does not decode.
                  An exception it raises is kept in last_ack_error.

    last_error    the outcome of the last background flush (None: success).
    last_result   the Result of the last flush(), send() or close(); close()
                  sets it before it raises.
    """

    def __init__(self, endpoint="tcp://127.0.0.1:4319", service_name=None, resource=None,
                 reply=False, interval=10.0, timeout=5.0, scope_name="otlpbroker-python",
                 max_series=DEFAULT_MAX_SERIES, on_flush=None, mode=None,
                 window=DEFAULT_WINDOW, resend=DEFAULT_RESEND, on_ack=None):
        if timeout is None or not timeout > 0:
            raise ValueError("timeout must be > 0")
        if interval and interval < 0:
            raise ValueError("interval must be >= 0")
        if mode is None:
            if reply:
                mode = "reply"
            elif isinstance(endpoint, str) and endpoint.startswith("ipc://"):
                mode = "stream"
            else:
                mode = "push"
        elif mode not in MODES:
            raise ValueError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
        elif reply and mode != "reply":
            raise ValueError("reply=True contradicts mode=%r" % mode)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError("window must be an int >= 1")
        if resend is None or not resend > 0:
            raise ValueError("resend must be > 0")
        res = {"service.name": service_name or "unknown_service"}
        res.update(resource or {})
        self._resource = _canonical(res)
        self.endpoint = endpoint
        self.mode = mode
        self.reply = mode == "reply"
        self.timeout = float(timeout)
        self.window = window
        self.resend = float(resend)
        self.scope_name = scope_name
        self.max_series = int(max_series)
        self.on_flush = on_flush
        self.on_ack = on_ack
        self.last_error = None
        self.last_ack_error = None
        self.last_result = None
        self._lock = threading.Lock()        # the instrument table
        self._instruments = {}               # name -> instrument, in creation order
        self._flush_lock = threading.Lock()  # one caller at a time; owns the sockets
        self._sender = _new_sender_id()
        self._next_seq = 0                   # the number of the next new message
        self._in_flight = {}                 # stream: seq -> _InFlight
        self._resend_queue = collections.deque()   # stream: (due, seq), due ascending
        self._resend_blocked = False         # stream: a resend found the socket full
        self._counts_lock = threading.Lock()  # the counts below, for stats()
        self._counts = dict.fromkeys(("sent", "acked", "resent", "refused", "rejected_points"), 0)
        self._ctx = None
        self._sock = None
        self._closed = False
        if endpoint is not None:
            self._ctx = zmq.Context()
            try:
                self._sock = self._new_socket(self._ctx)
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

    @property
    def sender_id(self):
        """The random non-zero 64-bit id in this client's sequence frames."""
        return self._sender

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

    def _new_socket(self, ctx, linger_ms=None):
        """A socket of the mode's kind on ctx, connected to the endpoint."""
        s = ctx.socket(zmq.PUSH if self.mode == "push" else zmq.DEALER)
        ms = int(self.timeout * 1000)
        s.setsockopt(zmq.LINGER, ms if linger_ms is None else linger_ms)
        s.setsockopt(zmq.SNDTIMEO, ms)
        if "[" in self.endpoint:
            s.setsockopt(zmq.IPV6, 1)
        try:
            s.connect(self.endpoint)
        except zmq.ZMQError:
            s.close(linger=0)
            raise
        return s

    def _check_open(self):
        if self.endpoint is None:
            raise OtlpBrokerError("no endpoint: this client only encodes")
        if self._sock is None:
            raise OtlpBrokerError("the client is closed")

    def _transmit(self, body, result):
        """Sends one request: a new number's sequence frame, then body (the
        encoding and body frames).  Reply mode waits for the answer, stream
        mode for room in the window.  Flush lock held."""
        self._check_open()
        if self.mode == "stream":
            return self._stream_send(body, result)
        seq = self._next_seq
        frame = _seq_frame(self._sender, seq)
        try:
            self._sock.send_multipart([frame] + body, copy=False)
        except zmq.Again:
            # Not queued: the number stays free for the next message.
            raise TimeoutError("could not queue the message within %.3g s" % self.timeout)
        self._next_seq = seq + 1
        result.seq = seq
        self._count("sent")
        if self.mode == "push":
            return result
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sock.poll(_ms(left), zmq.POLLIN):
                raise TimeoutError("no answer from %s within %.3g s" % (self.endpoint, self.timeout))
            answer = self._sock.recv_multipart()
            mine = [rest for sender, numbers, flags, rest in _groups(answer)
                    if sender == self._sender and seq in numbers and not flags & _SEQ_END]
            if mine:
                break
            # A late answer to an earlier request that timed out: not this one's.
        error = self._decode_answer(mine[0], result)
        if error is not None:
            raise error
        return result

    def _count(self, key, n=1):
        with self._counts_lock:
            self._counts[key] += n

    def _decode_answer(self, frames, result):
        """Fills result from an answer's frames after the sequence frame and
        counts it.  Returns the error it stands for (RefusedError,
        ProtocolError) or None."""
        result.answered = True
        error = None
        if len(frames) == 1:
            try:
                _parse_response(frames[0], result)
            except ProtocolError as e:
                error = e
        elif len(frames) == 2 and frames[0] == b"error":
            error = RefusedError(frames[1].decode("utf-8", "replace"))
        else:
            error = ProtocolError("answer of %d frames after the sequence frame" % len(frames))
        with self._counts_lock:
            self._counts["acked"] += 1
            self._counts["refused"] += isinstance(error, RefusedError)
            self._counts["rejected_points"] += result.rejected
        return error

    # -- stream mode (flush lock held throughout)

    def _stream_send(self, body, result):
        """Sends as soon as the window has room, reading answers meanwhile."""
        deadline = time.monotonic() + self.timeout
        seq = self._next_seq
        frames = [_seq_frame(self._sender, seq)] + body
        while True:
            self._pump()
            room = len(self._in_flight) < self.window
            if room:
                try:
                    self._sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
                    break
                except zmq.Again:
                    pass  # the socket's own queue is full: wait for POLLOUT
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError(
                    "could not send within %.3g s: %d of a window of %d messages in flight "
                    "unanswered by %s (in stream mode the endpoint is the broker's zmq.reply)"
                    % (self.timeout, len(self._in_flight), self.window, self.endpoint))
            self._poll(deadline, room)
        now = time.monotonic()
        result.seq = seq
        with self._counts_lock:
            self._next_seq = seq + 1
            self._in_flight[seq] = _InFlight(frames, result.points, now + self.resend)
            self._counts["sent"] += 1
        self._resend_queue.append((now + self.resend, seq))
        return result

    def _poll(self, deadline, out=False):
        """Waits for an answer, until the next resend is due or deadline
        (monotonic); out: or for room in the socket's queue, as when a resend
        found it full."""
        events = zmq.POLLIN
        until = min(deadline, self._next_due())
        if out or self._resend_blocked:
            events |= zmq.POLLOUT
            if self._resend_blocked:
                until = deadline  # that resend is due already: POLLOUT wakes
        self._sock.poll(_ms(until - time.monotonic()), events)

    def _pump(self):
        """Takes every answer already received, then resends what is due."""
        while True:
            try:
                answer = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            self._on_answer(answer)
        self._resend_due(time.monotonic())

    def _on_answer(self, answer):
        try:
            groups = list(_groups(answer))
        except ProtocolError as e:
            self.last_ack_error = e
            return
        for sender, numbers, flags, rest in groups:
            if sender != self._sender or flags & _SEQ_END:
                continue
            for seq in numbers:
                with self._counts_lock:
                    m = self._in_flight.pop(seq, None)
                if m is None:
                    continue  # answered before: the answer to a resend (or its original)
                result = Result(points=m.points, seq=seq)
                error = self._decode_answer(rest, result)
                if self.on_ack is not None:
                    try:
                        self.on_ack(result, error)
                    except Exception as e:  # kept, never printed
                        self.last_ack_error = e

    def _resend_due(self, now):
        """Sends again, with the same frames, every message unanswered for
        `resend` seconds.  The queue holds (due, seq) in order of due; entries
        of answered or rescheduled messages are dropped as they come up."""
        q = self._resend_queue
        self._resend_blocked = False
        while q:
            due, seq = q[0]
            m = self._in_flight.get(seq)
            if m is None or m.due != due:
                q.popleft()
                continue
            if due > now:
                break
            try:
                self._sock.send_multipart(m.frames, flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                self._resend_blocked = True  # the socket's queue is full: later
                break
            q.popleft()
            m.due = now + self.resend
            q.append((m.due, seq))
            self._count("resent")

    def _next_due(self):
        return self._resend_queue[0][0] if self._resend_queue else math.inf

    def _wait(self, deadline):
        """Reads answers, resending as needed, until none is in flight or
        deadline (monotonic) passed.  True when none is in flight."""
        if self.mode != "stream" or self._sock is None:
            return not self._in_flight
        while True:
            self._pump()
            if not self._in_flight:
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            self._poll(deadline)

    # -- the API

    def flush(self):
        """Encodes every series and sends one request (none when nothing was
        recorded).  Returns a Result: in reply mode with the answer; in
        stream mode once the message is sent (result.seq names it; its
        answer goes to on_ack).  Raises TimeoutError, RefusedError,
        ProtocolError, OtlpBrokerError (no endpoint, closed) or zmq.ZMQError."""
        with self._flush_lock:
            self._check_open()
            req, points = self._request()
            result = Result(points=points)
            if req is None:
                if self.mode == "stream":
                    self._pump()
            else:
                self._transmit([req.SerializeToString()], result)
            self.last_result = result
            return result

    def send(self, body, encoding=None):
        """Sends a ready ExportMetricsServiceRequest (bytes) as is; encoding
        "gzip" when body is compressed.  As flush() otherwise."""
        with self._flush_lock:
            frames = [encoding.encode(), body] if encoding else [body]
            result = self._transmit(frames, Result())
            self.last_result = result
            return result

    def wait(self, timeout=None):
        """Stream mode: reads answers (resending as needed) until no message
        is in flight or timeout seconds (None: the client's timeout) passed.
        Returns True when none is in flight.  Other modes never have any in
        flight: True at once."""
        timeout = self.timeout if timeout is None else float(timeout)
        with self._flush_lock:
            return self._wait(time.monotonic() + timeout)

    def stats(self):
        """Counts since the client opened: sent (messages numbered and sent,
        resends not included), acked (answers taken: successes and errors),
        resent (sends again of unanswered messages), refused (error answers),
        rejected_points (of the answers' partial_success), in_flight (sent,
        not answered; stream mode)."""
        with self._counts_lock:
            out = dict(self._counts)
            out["in_flight"] = len(self._in_flight)
        return out

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

    def _shutdown(self):
        """Sends the END frame (the number of messages sent, so that the
        broker can count what never arrived) and closes.  Push mode closes
        the data socket and its context first (which waits up to timeout for
        what the socket still holds to leave) and sends the END over a new
        connection: the tail of the old one is what libzmq may lose.  The
        DEALER modes put it last on their own socket, unanswered.  Nothing
        sent: no END.  Flush lock held."""
        sock, self._sock = self._sock, None
        end = _seq_frame(self._sender, self._next_seq, _SEQ_END) if self._next_seq else None
        try:
            if end is not None and self.mode != "push":
                try:
                    sock.send(end, zmq.NOBLOCK)
                except zmq.Again:
                    pass  # the queue is full: the broker's sender_ttl settles it
                end = None
        finally:
            sock.close()  # lingers up to timeout for what is queued
            self._ctx.term()
        if end is None:
            return
        ctx = zmq.Context()
        try:
            s = self._new_socket(ctx)
            try:
                s.send(end)
            except zmq.Again:
                pass  # not even queued in timeout: sender_ttl settles it
            finally:
                s.close()  # lingers up to timeout for the END to leave
        finally:
            ctx.term()

    def close(self):
        """Stops the background thread, flushes once more and, in stream
        mode, waits up to timeout for every answer; sends the END frame and
        closes the socket (lingering up to timeout for what is queued).  Returns the final flush's Result (None without
        an endpoint), its unacked set to the messages never acknowledged
        (stream mode); also in last_result.  Raises the final flush's error,
        or TimeoutError when unacked > 0, after everything is closed."""
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
            if result is None:
                result = Result()
            with self._flush_lock:
                if self.mode == "stream":
                    try:
                        self._wait(time.monotonic() + self.timeout)
                    except zmq.ZMQError as e:
                        error = error or e
                    result.unacked = len(self._in_flight)
                self._shutdown()
            self.last_result = result
            if error is None and result.unacked:
                error = TimeoutError("%d of %d messages not acknowledged by %s within %.3g s"
                                     % (result.unacked, self._next_seq, self.endpoint,
                                        self.timeout))
        if error is not None:
            raise error
        return result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _ms(seconds):
    """A poll timeout in whole milliseconds, rounded up, at least 0."""
    return max(0, int(math.ceil(seconds * 1000))) if seconds < math.inf else -1
