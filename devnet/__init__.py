"""Local anvil devnet: start/stop, compile and deploy protocol simulators."""
