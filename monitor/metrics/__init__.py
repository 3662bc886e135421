"""Prometheus metrics. Two sources, because the numbers live in two places:

- ``monitor.metrics.database``: what the database says (accounts by level, outbox depth and
  delivery latency per channel, alerts recorded and sent, each chain's last tick and price
  reading), served by ``perpwatch serve`` at ``/metrics`` whatever process wrote it;
- ``monitor.metrics.process``: what only the running monitor knows (tick duration, logs
  ingested, RPC requests and failures per URL, head lag), served by ``perpwatch run
  --metrics-port``.
"""
