"""The `fiscus` command: keys, datasets, policies, simulations, reports and households.

Connects to FISCUS_URL with FISCUS_API_KEY (or `--url` / `--api-key`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fiscus_client._sync.client import Fiscus
from fiscus_client._sync.jobs import SimulationJob
from fiscus_client.models import Simulation
from fiscus_client.tables import keys_table, print_json, print_report, rows_table, simulation_table
from fiscus_client.transport import FiscusError

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
keys = typer.Typer(help="API keys (admins issue and revoke them).", no_args_is_help=True)
datasets = typer.Typer(help="Populations to simulate.", no_args_is_help=True)
policies = typer.Typer(help="Reforms in PolicyEngine's format.", no_args_is_help=True)
simulations = typer.Typer(help="Society-wide simulations.", no_args_is_help=True)
household = typer.Typer(help="Single-household calculations.", no_args_is_help=True)
parameters = typer.Typer(help="policyengine-us parameters.", no_args_is_help=True)
variables = typer.Typer(help="policyengine-us variables.", no_args_is_help=True)
for group, name in (
    (keys, "keys"),
    (datasets, "datasets"),
    (policies, "policies"),
    (simulations, "simulations"),
    (household, "household"),
    (parameters, "parameters"),
    (variables, "variables"),
):
    app.add_typer(group, name=name)

# Piped output is read by programs and people alike: wide enough never to cut an id.
out = Console() if sys.stdout.isatty() else Console(width=200)
err = Console(stderr=True)

Url = Annotated[str | None, typer.Option(envvar="FISCUS_URL", help="Gateway URL")]
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="FISCUS_API_KEY", help="API key")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer")]
Named = Annotated[str, typer.Option()]


class Connection:
    """Where the command connects; set by the app's callback."""

    url: str | None = None
    api_key: str | None = None


@app.callback()
def connect(url: Url = None, api_key: ApiKeyOption = None) -> None:
    """Fiscus on the command line."""
    Connection.url, Connection.api_key = url, api_key


def client() -> Fiscus:
    """A client for the configured gateway; exits with a message when no key is set."""
    try:
        return Fiscus(Connection.url, Connection.api_key)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def read_json(path: Path) -> Any:
    """The JSON document in `path`; exits with a message when it is not one."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        err.print(f"[red]cannot read {path}: {exc}[/red]")
        raise typer.Exit(2) from exc


def main() -> None:
    """Run the command; a Fiscus error is printed as its problem, exit status 1."""
    try:
        app()
    except FiscusError as exc:
        err.print(f"[red]{exc.status} {exc.problem.get('title', '')}[/red]")
        if exc.problem.get("detail"):
            err.print(str(exc.problem["detail"]))
        for error in exc.problem.get("errors", []) or []:
            err.print(f"  {error.get('field')}: {error.get('message')}")
        raise SystemExit(1) from None


# --- keys ---------------------------------------------------------------------------------


@keys.command("create")
def keys_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin, user or readonly")] = "user",
    rate_limit: Annotated[str | None, typer.Option(help="e.g. 120/minute")] = None,
    daily_simulation_quota: Annotated[int | None, typer.Option()] = None,
    as_json: AsJson = False,
) -> None:
    """Issue a key; its secret is printed this once."""
    with client() as fiscus:
        key = fiscus.create_key(
            name, role, rate_limit=rate_limit, daily_simulation_quota=daily_simulation_quota
        )
    if as_json:
        print_json(out, key)
        return
    out.print(keys_table([key]))
    out.print(f"secret (shown once): [bold]{key.secret}[/bold]")


@keys.command("list")
def keys_list(as_json: AsJson = False) -> None:
    """API keys, newest first."""
    with client() as fiscus:
        page = fiscus.list_keys(limit=100)
    print_json(out, page) if as_json else out.print(keys_table(page.items))


@keys.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key."""
    with client() as fiscus:
        fiscus.revoke_key(key_id)
    out.print(f"revoked {key_id}")


# --- datasets -----------------------------------------------------------------------------


@datasets.command("synthetic")
def datasets_synthetic(
    name: Annotated[str, typer.Option()] = "Synthetic US",
    households: Annotated[int, typer.Option()] = 3000,
    seed: Annotated[int, typer.Option()] = 0,
    year: Annotated[int, typer.Option()] = 2025,
    as_json: AsJson = False,
) -> None:
    """Generate and register the seeded synthetic US population."""
    with client() as fiscus:
        dataset = fiscus.create_synthetic_dataset(name, households, seed=seed, year=year)
    print_json(out, dataset) if as_json else out.print(rows_table("dataset", [dataset]))


@datasets.command("upload")
def datasets_upload(
    archive: Path, name: Named, year: int | None = None, as_json: AsJson = False
) -> None:
    """Upload a zip of six per-entity Parquet (or CSV) files, or a PolicyEngine .h5 dataset."""
    with client() as fiscus:
        dataset = fiscus.upload_dataset(archive, name, year=year)
    print_json(out, dataset) if as_json else out.print(rows_table("dataset", [dataset]))


@datasets.command("list")
def datasets_list(as_json: AsJson = False) -> None:
    """Datasets, newest first."""
    with client() as fiscus:
        page = fiscus.list_datasets(limit=100)
    print_json(out, page) if as_json else out.print(rows_table("datasets", page.items))


@datasets.command("show")
def datasets_show(dataset_id: str, as_json: AsJson = False) -> None:
    """One dataset."""
    with client() as fiscus:
        dataset = fiscus.get_dataset(dataset_id)
    print_json(out, dataset) if as_json else out.print(rows_table("dataset", [dataset]))


# --- policies -----------------------------------------------------------------------------


def policy_from_file(fiscus: Fiscus, path: Path, name: str | None) -> str:
    """Store the reform in `path` (a reform, or `{name, data, description?}`); its id."""
    document = read_json(path)
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        data, description = document["data"], document.get("description")
        name = name or document.get("name")
    else:
        data, description = document, None
    policy = fiscus.create_policy(name or path.stem, data, description=description)
    return policy.id


@policies.command("create")
def policies_create(
    reform: Path, name: Annotated[str | None, typer.Option()] = None, as_json: AsJson = False
) -> None:
    """Store the reform in a JSON file (`{parameter: {period: value}}`)."""
    with client() as fiscus:
        policy = fiscus.get_policy(policy_from_file(fiscus, reform, name))
    print_json(out, policy) if as_json else out.print(rows_table("policy", [policy]))


@policies.command("list")
def policies_list(as_json: AsJson = False) -> None:
    """Policies, newest first."""
    with client() as fiscus:
        page = fiscus.list_policies(limit=100)
    print_json(out, page) if as_json else out.print(rows_table("policies", page.items))


@policies.command("show")
def policies_show(policy_id: str) -> None:
    """One policy, with its reform."""
    with client() as fiscus:
        print_json(out, fiscus.get_policy(policy_id))


# --- simulations --------------------------------------------------------------------------


def follow(job: SimulationJob, show_report: bool) -> Simulation:
    """Wait for `job` with a live progress bar; print its report when asked and completed."""
    final = job.wait(progress=True, console=err)
    out.print(simulation_table([final]))
    if show_report and final.status == "completed":
        print_report(out, job.report())
    return final


def batch_requests(fiscus: Fiscus, path: Path) -> list[dict[str, Any]]:
    """The simulation requests of a batch file; inline `reform`s are stored as policies."""
    document = read_json(path)
    items = document.get("simulations") if isinstance(document, dict) else document
    if not isinstance(items, list):
        err.print("[red]a batch file holds a list of simulations, or {simulations: [...]}[/red]")
        raise typer.Exit(2)
    requests = []
    for number, item in enumerate(items, 1):
        item = dict(item)
        reform = item.pop("reform", None)
        name = item.pop("name", None) or f"{path.stem} #{number}"
        if isinstance(reform, dict):
            item["policy_id"] = fiscus.create_policy(name, reform).id
        requests.append(item)
    return requests


@app.command()
def simulate(
    dataset: Annotated[str | None, typer.Option(help="Dataset id")] = None,
    reform: Annotated[Path | None, typer.Option(help="Reform JSON file")] = None,
    policy: Annotated[str | None, typer.Option(help="Stored policy id")] = None,
    baseline_policy: Annotated[str | None, typer.Option()] = None,
    year: Annotated[int, typer.Option()] = 2025,
    batch: Annotated[Path | None, typer.Option(help="JSON file of many simulations")] = None,
    wait: Annotated[bool, typer.Option(help="Follow with a progress bar to the end")] = False,
    report: Annotated[bool, typer.Option(help="With --wait: print the report")] = True,
) -> None:
    """Run a simulation (`--dataset` with `--reform` or `--policy`), or a `--batch` file."""
    with client() as fiscus:
        if batch is not None:
            jobs = fiscus.submit_batch(batch_requests(fiscus, batch))
            out.print(f"submitted {len(jobs)} simulations")
            states = [job.wait(console=err) if wait else job.refresh() for job in jobs]
            out.print(simulation_table(states))
            return
        if dataset is None or (reform is None) == (policy is None):
            err.print("[red]give --dataset and one of --reform or --policy (or --batch)[/red]")
            raise typer.Exit(2)
        policy_id = policy if reform is None else policy_from_file(fiscus, reform, None)
        assert policy_id is not None
        job = fiscus.simulate(dataset, policy_id, year, baseline_policy_id=baseline_policy)
        if not wait:
            out.print(simulation_table([job.refresh()]))
            return
        final = follow(job, report)
    if final.status != "completed":
        raise typer.Exit(1)


@simulations.command("list")
def simulations_list(
    status: Annotated[str | None, typer.Option()] = None, as_json: AsJson = False
) -> None:
    """Simulations, newest first."""
    with client() as fiscus:
        page = fiscus.list_simulations(status=status, limit=100)
    print_json(out, page) if as_json else out.print(simulation_table(page.items))


@simulations.command("show")
def simulations_show(simulation_id: str, as_json: AsJson = False) -> None:
    """One simulation's state."""
    with client() as fiscus:
        simulation = fiscus.get_simulation(simulation_id)
    print_json(out, simulation) if as_json else out.print(simulation_table([simulation]))


@simulations.command("watch")
def simulations_watch(simulation_id: str, report: bool = False) -> None:
    """Follow a simulation's live progress to its end."""
    with client() as fiscus:
        final = follow(fiscus.simulation(simulation_id), report)
    if final.status != "completed":
        raise typer.Exit(1)


@simulations.command("cancel")
def simulations_cancel(simulation_id: str) -> None:
    """Cancel a queued or running simulation."""
    with client() as fiscus:
        out.print(simulation_table([fiscus.cancel_simulation(simulation_id)]))


@app.command()
def report(simulation_id: str, as_json: AsJson = False) -> None:
    """Print the impact report of a completed simulation as tables."""
    with client() as fiscus:
        found = fiscus.get_report(simulation_id)
    print_json(out, found) if as_json else print_report(out, found)


# --- households and metadata --------------------------------------------------------------


@household.command("calculate")
def household_calculate(
    situation: Path,
    reform: Annotated[Path | None, typer.Option(help="Reform JSON file")] = None,
    policy: Annotated[str | None, typer.Option(help="Stored policy id")] = None,
    variable: Annotated[list[str] | None, typer.Option(help="Variable to calculate")] = None,
) -> None:
    """Calculate the household in a JSON file (PolicyEngine's household format).

    The file holds the household itself, or a whole request `{household, policy?, ...}`.
    """
    document = read_json(situation)
    if not isinstance(document, dict):
        err.print("[red]a household file holds a JSON object[/red]")
        raise typer.Exit(2)
    request: dict[str, Any] = (
        document if isinstance(document.get("household"), dict) else {"household": document}
    )
    with client() as fiscus:
        answer = fiscus.calculate_household(
            request["household"],
            policy=read_json(reform) if reform is not None else request.get("policy"),
            policy_id=policy or request.get("policy_id"),
            variables=variable or request.get("variables"),
        )
    print_json(out, answer)


@parameters.command("search")
def parameters_search(
    words: Annotated[list[str] | None, typer.Argument()] = None,
    limit: int = 20,
    as_json: AsJson = False,
) -> None:
    """Parameters whose name, label or description hold every word."""
    with client() as fiscus:
        page = fiscus.search_parameters(" ".join(words or []) or None, limit=limit)
    print_json(out, page) if as_json else out.print(rows_table("parameters", page.items))


@parameters.command("show")
def parameters_show(name: str) -> None:
    """One parameter with its values over time."""
    with client() as fiscus:
        print_json(out, fiscus.get_parameter(name))


@variables.command("search")
def variables_search(
    words: Annotated[list[str] | None, typer.Argument()] = None,
    limit: int = 20,
    as_json: AsJson = False,
) -> None:
    """Variables whose name, label or documentation hold every word."""
    with client() as fiscus:
        page = fiscus.search_variables(" ".join(words or []) or None, limit=limit)
    print_json(out, page) if as_json else out.print(rows_table("variables", page.items))


@variables.command("show")
def variables_show(name: str) -> None:
    """One variable's metadata."""
    with client() as fiscus:
        print_json(out, fiscus.get_variable(name))


if __name__ == "__main__":
    main()
