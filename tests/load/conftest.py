"""One stack for the load scenarios, with the household calculation worker.

It runs on a database and virtual host of its own, made afresh, so that what a burst
leaves behind never reaches the tests that run after this package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from shared.settings import Settings
from tests.conftest import TEST_DB, TEST_VHOST, migrate_afresh, reset_vhost
from tests.stack import RunningStack, running_stack

PORT_BASE = int(os.environ.get("FISCUS_TEST_PORT_BASE", "18000")) + 200
LOAD_DB = f"{TEST_DB}_load"
LOAD_VHOST = f"{TEST_VHOST}-load"
# Two workers share the burst, as a small deployment would.
LOAD_ENVIRONMENT = {"FISCUS_WORKERS": "2"}


@pytest.fixture(scope="package")
def load_settings(settings: Settings) -> Settings:
    reset_vhost(LOAD_VHOST)
    own = settings.model_copy(
        update={
            "database_url": make_url(settings.database_url)
            .set(database=LOAD_DB)
            .render_as_string(hide_password=False),
            "amqp_url": f"amqp://guest:guest@127.0.0.1:5672/{LOAD_VHOST}",
        }
    )
    migrate_afresh(own)
    return own


@pytest.fixture(scope="package")
def load_stack(
    load_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    var = tmp_path_factory.mktemp("load-stack-var")
    with running_stack(load_settings, var, PORT_BASE, LOAD_ENVIRONMENT) as stack:
        yield stack
