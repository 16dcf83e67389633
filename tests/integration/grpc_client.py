"""OTLP/gRPC calls to the broker with Python's grpcio (the gRPC C core).

The messages and the MetricsService stub are generated at build time
(tests/module.mk: protoc --python_out of proto/, and --grpc_python_out with
Debian's grpc_python_plugin of tests/proto, which declares the service).
Calls go through the stub with generated request messages; only what no
stub can send (bytes that do not decode, another service) takes grpcio's
generic calls.  Each line printed is "ok ..." or "FAIL ...".

usage: grpc_client.py PY_DIR PORT BODY_DIR
"""
import gzip
import os
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as ms  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_grpc_pb2_grpc as ms_grpc  # noqa: E402

PORT, BODIES = sys.argv[2], sys.argv[3]
METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
failed = False


def check(what, expected, actual):
    global failed
    if expected == actual:
        print("ok   " + what)
    else:
        failed = True
        print("FAIL %s: expected %r, got %r" % (what, expected, actual))


def body(name):
    with open(os.path.join(BODIES, name), "rb") as f:
        return f.read()


channel = grpc.insecure_channel("127.0.0.1:" + PORT)
export = ms_grpc.MetricsServiceStub(channel).Export
raw = channel.unary_unary(METHOD)  # bytes as they are: the one way to send garbage


def big_request(n):
    """A request whose protobuf is over n bytes: one gauge with a long description."""
    req = ms.ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add()
    m.name = "big"
    m.description = "x" * n
    m.gauge.data_points.add(time_unix_nano=1, as_double=1.0)
    return req


def code_of(call, *args, **kw):
    try:
        call(*args, timeout=10, **kw)
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()


# Round 1 plain, round 2 gzip, the mixed bodies alternately: every one accepted whole.
names = ["r1.bin", "m0.bin", "m1.bin", "m2.bin", "m3.bin", "r2.bin"]
for i, name in enumerate(names):
    req = ms.ExportMetricsServiceRequest.FromString(body(name))
    comp = grpc.Compression.Gzip if i % 2 else grpc.Compression.NoCompression
    resp, call = export.with_call(req, timeout=10, compression=comp)
    check("%s (%s): OK" % (name, "gzip" if i % 2 else "plain"), grpc.StatusCode.OK, call.code())
    check("%s: no partial_success" % name, False, resp.HasField("partial_success"))

# Points the broker rejects: OK, with partial_success saying how many and why.
resp = export(ms.ExportMetricsServiceRequest.FromString(body("unspecified.bin")), timeout=10)
check("partial: rejected_data_points", 1, resp.partial_success.rejected_data_points)
check("partial: error_message says why", True, "temporality" in resp.partial_success.error_message)

check("garbage body: INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
      code_of(raw, b"\xff\xff\xff"))
check("over limits.max_body_bytes: RESOURCE_EXHAUSTED", grpc.StatusCode.RESOURCE_EXHAUSTED,
      code_of(export, big_request(300000)))
# 400 KB of one letter gzips to a few hundred bytes: under the limit as sent,
# over it inflated.
try:
    export(big_request(400000), timeout=10, compression=grpc.Compression.Gzip)
    bomb = (grpc.StatusCode.OK, "")
except grpc.RpcError as e:
    bomb = (e.code(), e.details() or "")
check("gzip bomb: RESOURCE_EXHAUSTED", grpc.StatusCode.RESOURCE_EXHAUSTED, bomb[0])
check("gzip bomb: cut off inflating", True, "inflates" in bomb[1])
other = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
check("trace service: UNIMPLEMENTED", grpc.StatusCode.UNIMPLEMENTED, code_of(other, b""))
# Many calls at once on the one channel (one HTTP/2 connection).
futures = [export.future(ms.ExportMetricsServiceRequest(), timeout=10) for _ in range(200)]
check("200 concurrent empty calls: all OK", [grpc.StatusCode.OK] * 200,
      [f.code() for f in futures])
channel.close()
sys.exit(1 if failed else 0)
