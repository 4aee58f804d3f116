"""The asynchronous client, the one source of both clients (`_sync` is generated from it)."""
