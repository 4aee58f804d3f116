"""A tiny parameter tree in PolicyEngine's format, for the policy service without
policyengine-us: the real `PolicyEngineParameterTree` code over one credit's amount,
a boolean, a list and a scale of two brackets (tests/fuzz, the authorization matrix)."""

from __future__ import annotations

from typing import Any

from services.policy.domain.parameters import PolicyEngineParameterTree

TINY_TREE: dict[str, Any] = {
    "gov": {
        "credit": {
            "amount": {"values": {"2020-01-01": 2000}, "metadata": {"unit": "currency-USD"}},
            "refundable": {"values": {"2020-01-01": True}, "metadata": {"unit": "bool"}},
            "coverage": {
                "values": {"2020-01-01": ["medicaid", "chip"]},
                "metadata": {"unit": "list"},
            },
            "scale": {
                "brackets": [
                    {
                        "threshold": {"values": {"2020-01-01": 0}},
                        "amount": {"values": {"2020-01-01": 100}},
                    },
                    {
                        "threshold": {"values": {"2020-01-01": 1000}},
                        "amount": {"values": {"2020-01-01": 50}},
                    },
                ]
            },
        }
    }
}


def tiny_parameter_tree() -> PolicyEngineParameterTree:
    """The tree, built with policyengine-core (imported only here, when it is built)."""
    from policyengine_core.parameters import ParameterNode

    return PolicyEngineParameterTree(ParameterNode("", data=TINY_TREE))
