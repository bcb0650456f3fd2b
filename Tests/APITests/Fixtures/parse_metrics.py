#!/usr/bin/env python3
"""Parses Prometheus text from stdin with prometheus_client's own parser and prints
the metric family names, one per line; exits 1 on a parse error."""
import sys

from prometheus_client.parser import text_string_to_metric_families

try:
    for family in text_string_to_metric_families(sys.stdin.read()):
        print(f"{family.name} {family.type} {len(family.samples)}")
except Exception as error:  # the parser raises ValueError and friends
    print(f"parse error: {error}")
    sys.exit(1)
