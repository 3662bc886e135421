"""``perpwatch serve``: the HTTP API, ``/metrics`` and the dashboard, all read from the database
the monitor writes (``monitor.latest``), so it runs beside ``perpwatch run`` or elsewhere."""
