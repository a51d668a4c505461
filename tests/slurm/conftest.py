"""Fixtures for the Slurm tests: a real two-node cluster on this host (installed with apt-get when
missing, torn down at the end of the session) and tiny prepared data."""

from __future__ import annotations

import pytest

from tests.slurm.cluster import LocalCluster, Unavailable, ensure_installed
from tests.training.helpers import prepare_tiny


def pytest_configure(config):
    config.addinivalue_line("markers", "slurm: runs jobs on a real local two-node Slurm cluster (started by the "
                            "tests; needs root or an installed Slurm)")


@pytest.fixture(scope="session")
def slurm_cluster():
    try:
        ensure_installed()
    except Unavailable as err:
        pytest.skip(f"no Slurm cluster: {err}")
    cluster = LocalCluster()
    try:
        cluster.start()
    except Unavailable as err:
        cluster.stop()
        pytest.skip(f"no Slurm cluster: {err}")
    except BaseException:
        cluster.stop()
        raise
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def slurm_data(tmp_path_factory):
    """Shards of the tiny BPE corpus (the same the engine tests use)."""
    return prepare_tiny(tmp_path_factory.mktemp("slurm-data"), "bpe")
