"""Sending deliveries: the SSRF guard, the HTTP attempt and the delivery loop."""
