"""OTLP/gRPC calls to the broker with Python's grpcio (the gRPC C core).

The messages come from protoc --python_out of proto/ (run by test_grpc.sh);
the calls are grpcio's generic unary calls with the messages' own
serializers, since grpcio-tools (the stub generator) is not packaged in a
version that matches Debian's protobuf.  Each line printed is "ok ..." or
"FAIL ...".

usage: grpc_client.py PY_DIR PORT BODY_DIR
"""
import gzip
import os
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as ms  # noqa: E402

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
export = channel.unary_unary(
    METHOD, request_serializer=ms.ExportMetricsServiceRequest.SerializeToString,
    response_deserializer=ms.ExportMetricsServiceResponse.FromString)
raw = channel.unary_unary(METHOD)


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
      code_of(raw, b"\0" * 300000))
check("gzip bomb: RESOURCE_EXHAUSTED", grpc.StatusCode.RESOURCE_EXHAUSTED,
      code_of(raw, b"\n\0" * 200000, compression=grpc.Compression.Gzip))
other = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
check("trace service: UNIMPLEMENTED", grpc.StatusCode.UNIMPLEMENTED, code_of(other, b""))
# Many calls at once on the one channel (one HTTP/2 connection).
futures = [raw.future(b"", timeout=10) for _ in range(200)]
check("200 concurrent empty calls: all OK", [grpc.StatusCode.OK] * 200,
      [f.code() for f in futures])
channel.close()
sys.exit(1 if failed else 0)
