"""Charts of an impact report: valid PNG and SVG images of the report's numbers."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree

import pytest
from PIL import Image

from services.aggregation.domain.charts import CHARTS, ChartError, ChartName, render_chart
from services.aggregation.domain.report import build_report
from tests.unit.aggregation_results import random_frames


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    return build_report(*random_frames(seed=41, households=800))


@pytest.mark.parametrize("chart", CHARTS)
def test_png_is_a_labelled_image(report: dict[str, object], chart: ChartName) -> None:
    data = render_chart(report, chart, "png", 2026)
    image = Image.open(io.BytesIO(data))
    image.verify()
    assert image.format == "PNG" and image.size == (800, 500)


@pytest.mark.parametrize("chart", CHARTS)
def test_svg_is_xml_with_its_title_and_year(report: dict[str, object], chart: ChartName) -> None:
    data = render_chart(report, chart, "svg", 2026)
    root = ElementTree.fromstring(data)
    assert root.tag.endswith("svg")
    text = data.decode()
    assert "2026" in text
    # Drawn again, the same bytes: no dates or random ids in the file.
    assert render_chart(report, chart, "svg", 2026) == data


def test_decile_chart_labels_each_decile_change(report: dict[str, object]) -> None:
    text = render_chart(report, "decile", "svg", 2026).decode()
    relative = report["decile"]["relative"]  # type: ignore[index]
    for value in relative.values():
        assert f"{value * 100:+.1f}%" in text


def test_a_report_without_the_section_is_refused() -> None:
    with pytest.raises(ChartError, match="decile"):
        render_chart({"decile": {"relative": {}}}, "decile", "png", 2026)
