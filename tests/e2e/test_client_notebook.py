"""The notebook in examples/ run as a researcher runs it: in a Jupyter kernel of a venv
holding only the client package, against the stack, executed with nbclient."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from fiscus_client import Fiscus
from nbclient import NotebookClient

from tests.client_venv import ROOT, SERVER_PACKAGES, client_venv, installed
from tests.stack import RunningStack

NOTEBOOK = ROOT / "examples" / "reform.ipynb"


def kernel_of(python: Path, folder: Path) -> str:
    """A kernel spec, under `folder` (for JUPYTER_PATH), that runs `python`'s ipykernel."""
    spec = folder / "kernels" / "fiscus-client"
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "fiscus-client", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return "fiscus-client"


def outputs(notebook: Any) -> list[dict[str, Any]]:
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def test_the_reform_notebook_runs_against_the_stack(
    stack: RunningStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = client_venv(tmp_path / "venv", "3.12", "ipykernel")
    assert not installed(python) & SERVER_PACKAGES
    name = kernel_of(python, tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("FISCUS_URL", stack.gateway_url)
    monkeypatch.setenv("FISCUS_API_KEY", stack.new_key("notebook", "user"))
    monkeypatch.setenv("FISCUS_NOTEBOOK_HOUSEHOLDS", "40")
    notebook = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    assert all(not cell.get("outputs") for cell in notebook.cells), "commit it without outputs"
    runner = NotebookClient(
        notebook,
        kernel_name=name,
        timeout=900,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    runner.execute()  # CellExecutionError at the first cell that raises
    printed = [out["text"] for out in outputs(notebook) if out.get("name") == "stdout"]
    summary = json.loads(printed[-1].strip().splitlines()[-1])
    assert summary["status"] == "completed"
    with Fiscus(stack.gateway_url, stack.admin_key) as fiscus:
        report = fiscus.get_report(summary["simulation_id"])
    assert report.report.budget is not None
    assert summary["budgetary_impact"] == report.report.budget.budgetary_impact
    assert summary["aggregate_change"] == pytest.approx(summary["weighted_change"], rel=1e-5)
    assert summary["weighted_change"] > 0  # a larger credit: households gain
    # What households gain is what the budget loses (no behavioural response here).
    assert summary["budgetary_impact"] == pytest.approx(-summary["weighted_change"], rel=1e-4)
    images = [out for out in outputs(notebook) if "image/svg+xml" in out.get("data", {})]
    assert len(images) == 1 and "<svg" in images[0]["data"]["image/svg+xml"]
    frames = [out for out in outputs(notebook) if "text/html" in out.get("data", {})]
    assert len(frames) >= 4  # the report's budget, deciles, poverty and the results
