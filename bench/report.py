"""A benchmark's summary on stdout: one JSON object (``--json``), or aligned ``key  value``
lines with thousands separators."""

from __future__ import annotations

import sys
from collections.abc import Mapping

import orjson


def write_report(report: Mapping[str, object], *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(report).decode() + "\n")
        return
    width = max(map(len, report), default=0)
    for key, value in report.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        sys.stdout.write(f"{key:<{width}}  {format(value, ',') if number else value}\n")
