"""The gateway's database URL: what it takes as written, what it rewrites, what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpplab_sim.gateway.settings import normalize_db_url


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("sqlite:///gw.db", "sqlite+aiosqlite:///gw.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///./gw.db", "sqlite+aiosqlite:///./gw.db"),
    ],
)
def test_sqlite_urls_are_kept_as_written_on_the_async_driver(given: str, used: str) -> None:
    assert normalize_db_url(given) == used


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("notaurl", "is not a database URL"),
        ("mysql://u@h/db", "mysql is not supported"),
        ("oracle://u@h/db", "oracle is not supported"),
        ("sqlite:///no/such/folder/gw.db", "does not exist"),
    ],
)
def test_bad_urls_say_why(given: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        normalize_db_url(given)


def test_a_folder_is_not_a_database_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a folder"):
        normalize_db_url(f"sqlite:///{tmp_path}")
