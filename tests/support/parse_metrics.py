#!/usr/bin/python3
"""Parse a Prometheus text exposition with the official Python client's
parser (Debian package python3-prometheus-client) and check what a parser
can check: every family has a known type, histogram buckets are
cumulative and end in +Inf equal to _count.  Prints one line per family,
"NAME TYPE SAMPLES", for the calling test to assert on.

usage: parse_metrics.py FILE
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def check_histogram(family):
    series = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(key, {"buckets": [], "count": None})
        if s.name.endswith("_bucket"):
            series[key]["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            series[key]["count"] = s.value
    for key, data in series.items():
        values = [v for _, v in data["buckets"]]
        if values != sorted(values):
            sys.exit(f"{family.name}{key}: buckets are not cumulative")
        if not data["buckets"] or data["buckets"][-1][0] != float("inf"):
            sys.exit(f"{family.name}{key}: no +Inf bucket last")
        if data["buckets"][-1][1] != data["count"]:
            sys.exit(f"{family.name}{key}: +Inf bucket differs from _count")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    for family in text_string_to_metric_families(text):
        if family.type not in ("counter", "gauge", "histogram"):
            sys.exit(f"{family.name}: unexpected type {family.type}")
        if family.type == "histogram":
            check_histogram(family)
        print(family.name, family.type, len(family.samples))


if __name__ == "__main__":
    main()
