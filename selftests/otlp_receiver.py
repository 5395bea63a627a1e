#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A small OTLP/HTTP JSON metrics receiver for selftests/hbxtrace_test.sh.

Checks every request against the OTLP JSON encoding of
opentelemetry/proto/collector/metrics/v1 ExportMetricsServiceRequest
(proto3 JSON: lowerCamelCase field names; int64/uint64/fixed64 as decimal
strings or numbers; enums as numbers; no unknown fields), answers 200 with
an ExportMetricsServiceResponse, or 400 with the first problem, and logs
one line per request:  "ok METRICS POINTS" or "bad REASON".

  otlp_receiver.py serve PORT LOG     (POST /v1/metrics)
  otlp_receiver.py check FILE         (one request per line; exit 1 if any is bad)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Bad(Exception):
    pass


def obj(v, where, fields):
    if not isinstance(v, dict):
        raise Bad(f"{where}: not an object")
    unknown = set(v) - set(fields)
    if unknown:
        raise Bad(f"{where}: unknown fields {sorted(unknown)}")
    for k, check in fields.items():
        if k in v:
            check(v[k], f"{where}.{k}")
    return v


def string(v, where):
    if not isinstance(v, str):
        raise Bad(f"{where}: not a string")


def integer(v, where, signed=False):
    """(u)int64/fixed64: a decimal string, or a JSON integer."""
    if isinstance(v, bool):
        raise Bad(f"{where}: a bool, not an integer")
    if isinstance(v, str):
        try:
            n = int(v, 10)
        except ValueError:
            raise Bad(f"{where}: {v!r} is not a decimal integer")
    elif isinstance(v, int):
        n = v
    else:
        raise Bad(f"{where}: not an integer")
    if not signed and n < 0:
        raise Bad(f"{where}: negative")
    if n >= 1 << 64:
        raise Bad(f"{where}: beyond 64 bits")
    return n


def uint32(v, where):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 32:
        raise Bad(f"{where}: not a uint32 number")


def double(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        if v not in ("NaN", "Infinity", "-Infinity"):
            raise Bad(f"{where}: not a number")


def boolean(v, where):
    if not isinstance(v, bool):
        raise Bad(f"{where}: not a bool")


def array(check):
    def f(v, where):
        if not isinstance(v, list):
            raise Bad(f"{where}: not an array")
        for i, x in enumerate(v):
            check(x, f"{where}[{i}]")
    return f


def any_value(v, where):
    obj(v, where, {
        "stringValue": string, "boolValue": boolean,
        "intValue": lambda x, w: integer(x, w, True), "doubleValue": double,
        "arrayValue": lambda x, w: obj(x, w, {"values": array(any_value)}),
        "kvlistValue": lambda x, w: obj(x, w, {"values": array(key_value)}),
        "bytesValue": string,
    })
    if len(v) != 1:
        raise Bad(f"{where}: an AnyValue holds exactly one value")


def key_value(v, where):
    obj(v, where, {"key": string, "value": any_value})
    if "key" not in v or "value" not in v:
        raise Bad(f"{where}: key and value are required")


attributes = array(key_value)
TEMPORALITY = (1, 2)        # DELTA, CUMULATIVE (0 is UNSPECIFIED: invalid)


def point_common(where, extra):
    fields = {"attributes": attributes, "startTimeUnixNano": integer,
              "timeUnixNano": integer, "exemplars": array(lambda x, w: None),
              "flags": uint32}
    fields.update(extra)
    return fields


def number_point(v, where):
    obj(v, where, point_common(where, {"asDouble": double,
                                       "asInt": lambda x, w: integer(x, w, True)}))
    if ("asDouble" in v) == ("asInt" in v):
        raise Bad(f"{where}: exactly one of asDouble and asInt")
    if "timeUnixNano" not in v:
        raise Bad(f"{where}: no timeUnixNano")


def histogram_point(v, where):
    obj(v, where, point_common(where, {
        "count": integer, "sum": double, "min": double, "max": double,
        "bucketCounts": array(integer), "explicitBounds": array(double)}))
    counts, bounds = v.get("bucketCounts", []), v.get("explicitBounds", [])
    if counts and len(counts) != len(bounds) + 1:
        raise Bad(f"{where}: {len(counts)} bucketCounts for {len(bounds)} explicitBounds")
    if any(b >= c for b, c in zip(bounds, bounds[1:])):
        raise Bad(f"{where}: explicitBounds not increasing")
    if sum(int(c) for c in counts) != int(v.get("count", 0)):
        raise Bad(f"{where}: bucketCounts do not add up to count")


def temporality(v, where):
    if v not in TEMPORALITY:
        raise Bad(f"{where}: aggregationTemporality {v!r}")


def metric(v, where):
    obj(v, where, {
        "name": string, "description": string, "unit": string,
        "metadata": attributes,
        "gauge": lambda x, w: obj(x, w, {"dataPoints": array(number_point)}),
        "sum": lambda x, w: obj(x, w, {"dataPoints": array(number_point),
                                       "aggregationTemporality": temporality,
                                       "isMonotonic": boolean}),
        "histogram": lambda x, w: obj(x, w, {"dataPoints": array(histogram_point),
                                             "aggregationTemporality": temporality}),
    })
    kinds = [k for k in ("gauge", "sum", "histogram", "exponentialHistogram", "summary") if k in v]
    if len(kinds) != 1:
        raise Bad(f"{where}: exactly one data kind, found {kinds}")
    if not v.get("name"):
        raise Bad(f"{where}: no name")
    if kinds[0] in ("sum", "histogram") and "aggregationTemporality" not in v[kinds[0]]:
        raise Bad(f"{where}: no aggregationTemporality")


def check_request(body):
    try:
        req = json.loads(body)
    except ValueError as e:
        raise Bad(f"not JSON: {e}")
    scope = lambda x, w: obj(x, w, {"name": string, "version": string,
                                   "attributes": attributes,
                                   "droppedAttributesCount": uint32})
    obj(req, "request", {"resourceMetrics": array(lambda x, w: obj(x, w, {
        "resource": lambda r, w2: obj(r, w2, {"attributes": attributes,
                                              "droppedAttributesCount": uint32}),
        "schemaUrl": string,
        "scopeMetrics": array(lambda s, w2: obj(s, w2, {
            "scope": scope, "schemaUrl": string, "metrics": array(metric)})),
    }))})
    metrics = points = 0
    names = set()
    for rm in req.get("resourceMetrics", []):
        keys = {a["key"] for a in rm.get("resource", {}).get("attributes", [])}
        for want in ("host.name", "os.version", "hyperbox.module.version"):
            if want not in keys:
                raise Bad(f"resource: no {want} attribute")
        for sm in rm.get("scopeMetrics", []):
            for m in sm.get("metrics", []):
                metrics += 1
                names.add(m["name"])
                kind = next(k for k in ("gauge", "sum", "histogram") if k in m)
                points += len(m[kind].get("dataPoints", []))
    if not metrics:
        raise Bad("no metrics")
    for want in ("hyperbox.read.duration", "hyperbox.fetch.duration", "hyperbox.read.bytes"):
        if want not in names:
            raise Bad(f"no {want} metric")
    return metrics, points


class Handler(BaseHTTPRequestHandler):
    log_path = None

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            if self.path != "/v1/metrics":
                raise Bad(f"path {self.path}")
            if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                raise Bad("Content-Type is not application/json")
            m, p = check_request(body)
            line, code, out = f"ok {m} {p}", 200, b"{}"
        except Bad as e:
            line, code, out = f"bad {e}", 400, json.dumps({"message": str(e)}).encode()
        with open(self.log_path, "a") as f:
            f.write(line + "\n")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        Handler.log_path = sys.argv[3]
        HTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        bad = 0
        for n, body in enumerate(open(sys.argv[2]), 1):
            try:
                m, p = check_request(body)
                print(f"ok {m} {p}")
            except Bad as e:
                print(f"bad line {n}: {e}")
                bad += 1
        sys.exit(1 if bad else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
