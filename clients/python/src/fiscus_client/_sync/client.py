# Generated from fiscus_client/_async by clients/python/generate_sync.py: edit that.
"""The synchronous client, `AsyncFiscus(url, api_key)`: every public route of the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fiscus_client._sync.base import Base
from fiscus_client._sync.simulations import Simulations
from fiscus_client._sync.webhooks import Webhooks
from fiscus_client.models import (
    ApiKey,
    AuditEntry,
    Dataset,
    Page,
    Parameter,
    Policy,
    Variable,
)
from fiscus_client.transport import without_none


class Keys(Base):
    """API keys, the audit log and the gateway's health."""

    def create_key(
        self,
        name: str,
        role: str = "user",
        *,
        rate_limit: str | None = None,
        daily_simulation_quota: int | None = None,
    ) -> ApiKey:
        """Issue an API key (admin only); its `secret` is in this answer only."""
        body = without_none(
            {
                "name": name,
                "role": role,
                "rate_limit": rate_limit,
                "daily_simulation_quota": daily_simulation_quota,
            }
        )
        return self._one(ApiKey, "POST", "/api/v1/keys", json=body)

    def list_keys(self, *, limit: int = 20, cursor: str | None = None) -> Page[ApiKey]:
        """API keys, newest first (a non-admin sees its own)."""
        return self._page(ApiKey, "/api/v1/keys", limit=limit, cursor=cursor)

    def get_key(self, key_id: str) -> ApiKey:
        """One API key, without its secret."""
        return self._one(ApiKey, "GET", f"/api/v1/keys/{key_id}")

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key: it is refused from now on."""
        # Revoking is the same whatever the key's state: no ETag to compare with.
        self.request("DELETE", f"/api/v1/keys/{key_id}", headers={"If-Match": "*"})

    def list_audit(
        self,
        *,
        principal: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        status: int | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """The audit log of changes, newest first (admin only), optionally narrowed."""
        return self._page(
            AuditEntry,
            "/api/v1/audit",
            principal=principal,
            resource_type=resource_type,
            resource_id=resource_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )

    def health(self) -> dict[str, Any]:
        """Whether the gateway is up (`/healthz`)."""
        answer: dict[str, Any] = self.request("GET", "/healthz")
        return answer

    def ready(self) -> dict[str, Any]:
        """Whether the gateway and the services behind it answer (`/readyz`)."""
        answer: dict[str, Any] = self.request("GET", "/readyz")
        return answer


class Data(Base):
    """Datasets, policies, household calculations and policyengine-us's metadata."""

    def create_synthetic_dataset(
        self, name: str, households: int, *, seed: int = 0, year: int = 2025
    ) -> Dataset:
        """Generate and register the built-in synthetic US population."""
        body = {"name": name, "households": households, "seed": seed, "year": year}
        return self._one(Dataset, "POST", "/api/v1/datasets/synthetic", json=body)

    def upload_dataset(self, archive: Path, name: str, *, year: int | None = None) -> Dataset:
        """Upload a population: a zip of per-entity Parquet or CSV files, or a PolicyEngine
        HDF5 dataset (`year` picks one year of a multi-year file)."""
        archive = Path(archive)
        kind = "application/zip" if archive.suffix == ".zip" else "application/octet-stream"
        with archive.open("rb") as file:
            return self._one(
                Dataset,
                "POST",
                "/api/v1/datasets",
                data=without_none({"name": name, "year": None if year is None else str(year)}),
                files={"file": (archive.name, file, kind)},
            )

    def list_datasets(
        self,
        *,
        year: int | None = None,
        sha256: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[Dataset]:
        """Datasets the caller may use, newest first, optionally of one year or content."""
        return self._page(
            Dataset, "/api/v1/datasets", year=year, sha256=sha256, limit=limit, cursor=cursor
        )

    def get_dataset(self, dataset_id: str) -> Dataset:
        """A dataset's metadata."""
        return self._one(Dataset, "GET", f"/api/v1/datasets/{dataset_id}")

    def delete_dataset(self, dataset_id: str, *, if_match: str | None = None) -> None:
        """Delete one of the caller's datasets (of the version `if_match` names, by default
        the one read just before)."""
        path = f"/api/v1/datasets/{dataset_id}"
        self.request("DELETE", path, headers={"If-Match": self._etag(path, if_match)})

    def download_dataset(self, dataset_id: str, target: Path) -> Path:
        """Save the dataset's six Parquet files, as one zip, to `target` (a file or a
        folder), checked against its SHA-256; the file written."""
        return self._save(f"/api/v1/datasets/{dataset_id}/download", Path(target))

    def download_original(self, dataset_id: str, target: Path) -> Path:
        """Save the file the dataset was uploaded as to `target` (a file or a folder)."""
        return self._save(f"/api/v1/datasets/{dataset_id}/original", Path(target))

    def create_policy(
        self,
        name: str,
        data: dict[str, Any],
        *,
        description: str | None = None,
        visibility: str | None = None,
    ) -> Policy:
        """Store a reform given in PolicyEngine's format (validated by the server)."""
        body = without_none(
            {"name": name, "data": data, "description": description, "visibility": visibility}
        )
        return self._one(Policy, "POST", "/api/v1/policies", json=body)

    def list_policies(
        self,
        *,
        name: str | None = None,
        sha256: str | None = None,
        visibility: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[Policy]:
        """The caller's policies, newest first (`visibility="public"`: everyone's public ones)."""
        return self._page(
            Policy,
            "/api/v1/policies",
            name=name,
            sha256=sha256,
            visibility=visibility,
            limit=limit,
            cursor=cursor,
        )

    def get_policy(self, policy_id: str) -> Policy:
        """One stored reform: the caller's own, or a public one."""
        return self._one(Policy, "GET", f"/api/v1/policies/{policy_id}")

    def update_policy(
        self,
        policy_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        visibility: str | None = None,
        if_match: str | None = None,
    ) -> Policy:
        """Rename a policy, change its description or visibility (its reform never changes);
        of the version `if_match` names, by default the one read just before."""
        path = f"/api/v1/policies/{policy_id}"
        body = without_none({"name": name, "description": description, "visibility": visibility})
        headers = {"If-Match": self._etag(path, if_match)}
        return self._one(Policy, "PATCH", path, json=body, headers=headers)

    def delete_policy(self, policy_id: str, *, if_match: str | None = None) -> None:
        """Delete one of the caller's policies."""
        path = f"/api/v1/policies/{policy_id}"
        self.request("DELETE", path, headers={"If-Match": self._etag(path, if_match)})

    def calculate_household(
        self,
        household: dict[str, Any],
        *,
        policy: dict[str, Any] | None = None,
        policy_id: str | None = None,
        variables: list[str] | None = None,
    ) -> dict[str, Any]:
        """Calculate one household (PolicyEngine's household JSON) on warm workers.

        Under current law, a reform given as `policy`, or the stored policy `policy_id`;
        the answer holds the household with the calculated values in place.
        """
        body = without_none(
            {
                "household": household,
                "policy": policy,
                "policy_id": policy_id,
                "variables": variables,
            }
        )
        answer: dict[str, Any] = self.request("POST", "/api/v1/households/calculate", json=body)
        return answer

    def search_parameters(
        self, search: str | None = None, *, limit: int = 20, cursor: str | None = None
    ) -> Page[Parameter]:
        """Parameters whose name, label or description contain every word of `search`."""
        return self._page(
            Parameter, "/api/v1/parameters", search=search, limit=limit, cursor=cursor
        )

    def get_parameter(self, name: str) -> Parameter:
        """One parameter with its values over time."""
        return self._one(Parameter, "GET", f"/api/v1/parameters/{name}")

    def search_variables(
        self, search: str | None = None, *, limit: int = 20, cursor: str | None = None
    ) -> Page[Variable]:
        """Variables whose name, label or documentation contain every word of `search`."""
        return self._page(Variable, "/api/v1/variables", search=search, limit=limit, cursor=cursor)

    def get_variable(self, name: str) -> Variable:
        """One variable's metadata."""
        return self._one(Variable, "GET", f"/api/v1/variables/{name}")


class Fiscus(Keys, Data, Simulations, Webhooks):
    """A Fiscus gateway reached with one API key; every answer comes back as a typed object.

    `url` and `api_key` default to the environment variables FISCUS_URL and FISCUS_API_KEY.
    Use it as `async with AsyncFiscus() as fiscus:`, or call `aclose()` when done.
    """
