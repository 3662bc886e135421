"""perpwatch benchmarks: each runs a named baseline and perpwatch in one run and prints ratios."""
