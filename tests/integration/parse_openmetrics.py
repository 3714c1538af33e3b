#!/usr/bin/python3
"""Parses OpenMetrics text on stdin with prometheus_client's parser.

Prints one line per sample, "TYPE NAME{label=value,...} VALUE", sorted, and
exits 1 with the parser's message if the text is not valid OpenMetrics
(operator_rpc_test reads the output). Also parses it with the Prometheus
text-format parser (what node_exporter's textfile collector speaks), which
must accept it too.
"""
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics)
from prometheus_client.parser import (
    text_string_to_metric_families as parse_prometheus)

text = sys.stdin.read()
try:
    families = list(parse_openmetrics(text))
    list(parse_prometheus(text.replace("# EOF\n", "")))
except Exception as error:  # the parsers raise ValueError and others
    print(f"not valid: {error}", file=sys.stderr)
    sys.exit(1)
lines = []
for family in families:
    for sample in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
        lines.append(f"{family.type} {sample.name}{{{labels}}} {sample.value:g}")
print("\n".join(sorted(lines)))
