"""What the monitor last saw, persisted for readers in other processes (``perpwatch serve``):
each protocol's latest prices and each account's latest health."""
