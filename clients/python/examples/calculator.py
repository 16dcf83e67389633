#!/usr/bin/python3
"""The Prometheus OpenTelemetry guide's calculator, pushing to otlp-broker
over ZeroMQ with the otlpbroker module instead of an OpenTelemetry SDK.

    PYTHONPATH=clients/python:build/python /usr/bin/python3 \\
        clients/python/examples/calculator.py [--endpoint tcp://127.0.0.1:4319] [--port 5000]
    curl 'http://127.0.0.1:5000/add?a=2&b=3'      -> {"result": 5.0}

GET /add, /subtract, /multiply, /divide with query arguments a and b.
Metrics (service.name=calculator, so job="calculator" at the scrape):
  calc_operation               counter, attribute operation=add|subtract|...
  http.server.duration         histogram in ms, attributes http.method,
                               http.route, http.status_code
  http.server.active_requests  up-down counter, attribute http.method
"""
import argparse
import operator
import os
import sys
import time

from flask import Flask, g, jsonify, request

try:
    import otlpbroker
except ImportError:  # run from a source tree: clients/python next to this file
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import otlpbroker

OPERATIONS = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "divide": operator.truediv,
}


def create_app(client):
    """The Flask app, recording into client's instruments."""
    app = Flask("calculator")
    ops = client.counter("calc_operation", description="Number of calculator operations")
    duration = client.histogram("http.server.duration", unit="ms",
                                description="Duration of HTTP requests")
    active = client.updown_counter("http.server.active_requests", unit="{request}",
                                   description="Number of active HTTP requests")

    @app.before_request
    def begin():
        g.start = time.perf_counter()
        active.add(1, {"http.method": request.method})

    @app.after_request
    def end(response):
        attrs = {"http.method": request.method, "http.status_code": response.status_code}
        if request.url_rule is not None:
            attrs["http.route"] = request.url_rule.rule
        duration.record((time.perf_counter() - g.start) * 1000.0, attrs)
        return response

    @app.teardown_request
    def done(_exc):
        active.add(-1, {"http.method": request.method})

    def calculate(name):
        try:
            a = float(request.args["a"])
            b = float(request.args["b"])
        except (KeyError, ValueError):
            return jsonify(error="query arguments a and b must be numbers"), 400
        try:
            result = OPERATIONS[name](a, b)
        except ZeroDivisionError:
            return jsonify(error="division by zero"), 400
        ops.add(1, {"operation": name})
        return jsonify(result=result)

    for name in OPERATIONS:
        app.add_url_rule("/" + name, name, lambda name=name: calculate(name))
    return app


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", default="tcp://127.0.0.1:4319",
                   help="broker's zmq.pull endpoint (push), or its zmq.reply endpoint "
                        "(stream, reply); default mode: stream for ipc://, push otherwise")
    p.add_argument("--mode", choices=otlpbroker.MODES, default=None,
                   help="push: fire-and-forget; stream: acknowledged, a window in flight; "
                        "reply: wait for each answer")
    p.add_argument("--reply", action="store_true", help="the same as --mode reply")
    p.add_argument("--interval", type=float, default=5.0, help="flush period in seconds")
    p.add_argument("--port", type=int, default=5000)
    args = p.parse_args()

    def report(_result, error):
        if error is not None:
            print("calculator: flush failed: %s" % error, file=sys.stderr)

    mode = "reply" if args.reply else args.mode
    client = otlpbroker.Client(args.endpoint, service_name="calculator", mode=mode,
                               interval=args.interval, on_flush=report)
    try:
        create_app(client).run(host="127.0.0.1", port=args.port)
    finally:
        client.close()


if __name__ == "__main__":
    main()
