"""Event consumers of the gateway (it consumes none through an inbox: its feed of
simulation events for the SSE streams is adapters/simulation_feed.py)."""
