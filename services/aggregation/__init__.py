"""The aggregation service: impact reports from finished simulations."""
