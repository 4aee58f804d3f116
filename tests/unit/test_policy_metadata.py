"""The metadata catalog: built from a policyengine-core parameter tree, searched by pages."""

from __future__ import annotations

from typing import Any

import pytest

from services.policy.domain.metadata import (
    Index,
    ParameterInfo,
    build_catalog,
    decode_name_cursor,
    encode_name_cursor,
)
from services.policy.domain.parameters import PolicyEngineParameterTree


def small_tree() -> PolicyEngineParameterTree:
    from policyengine_core.parameters import ParameterNode

    data: dict[str, Any] = {
        "gov": {
            "credits": {
                "ctc": {
                    "description": "The Child Tax Credit by age.",
                    "metadata": {"label": "Child Tax Credit", "type": "single_amount"},
                    "brackets": [
                        {
                            "threshold": {"values": {"2013-01-01": 0}},
                            "amount": {
                                "values": {"2013-01-01": 1000, "2025-01-01": 2200},
                                "metadata": {"unit": "currency-USD"},
                            },
                        }
                    ],
                },
                "refundable": {
                    "description": "Whether the credit is refundable.",
                    "values": {"2020-01-01": True},
                    "metadata": {"unit": "bool", "label": "Refundable", "period": "year"},
                },
            }
        }
    }
    return PolicyEngineParameterTree(ParameterNode("", data=data))


def test_every_leaf_is_described_with_its_values_oldest_first() -> None:
    catalog = build_catalog(small_tree())
    names = [info.name for info in catalog.parameters.search(None, 100).items]
    assert names == [
        "gov.credits.ctc[0].amount",
        "gov.credits.ctc[0].threshold",
        "gov.credits.refundable",
    ]
    amount = catalog.parameters.get("gov.credits.ctc[0].amount")
    assert amount is not None
    assert amount.label == "Child Tax Credit (bracket 1): amount"
    assert amount.description == "The Child Tax Credit by age."
    assert amount.unit == "currency-USD"
    assert [(v.start, v.value) for v in amount.values] == [
        ("2013-01-01", 1000),
        ("2025-01-01", 2200),
    ]
    refundable = catalog.parameters.get("gov.credits.refundable")
    assert refundable is not None
    assert (refundable.label, refundable.period, refundable.values[0].value) == (
        "Refundable",
        "year",
        True,
    )
    assert len(catalog.variables) == 0


def info(name: str, text: str) -> ParameterInfo:
    return ParameterInfo(name, None, None, None, None, (), search_text=f"{name} {text}")


def test_search_needs_every_word_and_pages_do_not_repeat() -> None:
    index = Index([info(f"p{n:02}", "child credit" if n % 2 else "tax") for n in range(30)])
    first = index.search("CREDIT child", 5)
    assert [i.name for i in first.items] == ["p01", "p03", "p05", "p07", "p09"]
    assert first.next_cursor is not None
    seen = [i.name for i in first.items]
    cursor: str | None = first.next_cursor
    while cursor is not None:
        page = index.search("credit child", 5, cursor)
        seen += [i.name for i in page.items]
        cursor = page.next_cursor
    assert seen == [f"p{n:02}" for n in range(1, 30, 2)]
    assert index.search("nothing-like-it", 5).items == []
    assert index.search("tax", 100).next_cursor is None


def test_a_cursor_names_a_position_and_garbage_is_refused() -> None:
    assert decode_name_cursor(encode_name_cursor("gov.irs[0].amount")) == "gov.irs[0].amount"
    for garbage in ("", "%%%", "\udcff"):
        with pytest.raises(ValueError):
            decode_name_cursor(garbage)
