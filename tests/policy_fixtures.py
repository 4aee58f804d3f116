"""The policyengine-us parameter tree, loaded at most once per test process.

Every policy test module shares this one `WarmParameterTree`: loading it imports
policyengine-us and builds the baseline system, most of a minute.
"""

from __future__ import annotations

from services.policy.domain.parameters import WarmParameterTree

US_PARAMETER_TREE = WarmParameterTree()
LOAD_TIMEOUT_SECONDS = 900.0
