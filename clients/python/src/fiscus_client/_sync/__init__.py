# Generated from fiscus_client/_async by clients/python/generate_sync.py: edit that.
"""The synchronous client, generated from the asynchronous one (`_async`)."""
