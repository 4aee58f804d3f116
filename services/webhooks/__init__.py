"""Webhooks: signed HTTP deliveries of Fiscus events to endpoints their owners register."""
