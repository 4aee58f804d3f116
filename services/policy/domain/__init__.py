"""Pure policy logic: reform validation over a parameter tree, content hashes."""
