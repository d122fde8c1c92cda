"""its-client's parts that need no server: the token store (one file per system, readable by the user only — 0600 in
a 0700 directory —, written atomically, replaced when the token rotates, removed at logout, in the user's config
directory), the TUF target path of a kit, the routes through a gateway or to each service, attachments' names."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from its_client import Routes, target_path
from its_client.asking import attachment_name
from its_client.tokens import StoredLogin, TokenStore, default_config_dir

GATEWAY = "https://127.0.0.1:8443"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_the_refresh_token_is_written_readable_by_the_user_only(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "its-client")
    os.umask(0o022)  # a usual umask: a plain open() would make the file world-readable
    path = store.save(StoredLogin(GATEWAY, "refresh-one", "ivan"))
    assert mode(path) == 0o600
    assert mode(store.directory) == 0o700
    assert store.load(GATEWAY) == StoredLogin(GATEWAY, "refresh-one", "ivan")


def test_a_rotated_token_replaces_the_old_one_in_the_same_file_leaving_nothing_else(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    first = store.save(StoredLogin(GATEWAY, "refresh-one", "ivan"))
    second = store.save(StoredLogin(GATEWAY + "/", "refresh-two", "ivan"))  # the same system, however written
    assert first == second
    assert "refresh-one" not in first.read_text() and store.load(GATEWAY) is not None
    assert store.load(GATEWAY).refresh_token == "refresh-two"  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]  # no temporary file left behind
    if sys.platform != "win32":
        assert mode(second) == 0o600


def test_each_system_has_a_file_of_its_own(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(StoredLogin(GATEWAY, "local", "ivan"))
    store.save(StoredLogin("https://its.example.com", "production", "ivan"))
    store.save(StoredLogin("https://its.example.com:8443", "staging", "ivan"))
    tokens = {url: store.load(url) for url in (GATEWAY, "https://its.example.com", "https://ITS.example.com:8443")}
    assert {url: t.refresh_token for url, t in tokens.items() if t} == {
        GATEWAY: "local",
        "https://its.example.com": "production",
        "https://ITS.example.com:8443": "staging",
    }
    assert len(list(tmp_path.iterdir())) == 3


def test_logout_removes_the_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    path = store.save(StoredLogin(GATEWAY, "refresh-one", "ivan"))
    assert store.remove(GATEWAY) is True
    assert not path.exists() and store.load(GATEWAY) is None
    assert store.remove(GATEWAY) is False


def test_a_damaged_file_is_as_if_not_logged_in(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(StoredLogin(GATEWAY, "refresh-one", "ivan")).write_text("{not json")
    assert store.load(GATEWAY) is None


def test_the_token_never_shows_in_a_repr() -> None:
    assert "secret-token" not in repr(StoredLogin(GATEWAY, "secret-token", "ivan"))


def test_the_lock_is_taken_and_given_back(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    lock = store.lock(GATEWAY)
    lock.acquire()
    lock.release()
    lock.acquire()  # not left held
    lock.release()


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX defaults")
def test_the_config_directory_is_the_users_unless_told(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ITS_CLIENT_CONFIG_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_config_dir() == tmp_path / ".config" / "its-client"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_config_dir() == tmp_path / "xdg" / "its-client"
    monkeypatch.setenv("ITS_CLIENT_CONFIG_DIR", str(tmp_path / "mine"))
    assert default_config_dir() == tmp_path / "mine"
    assert TokenStore().directory == tmp_path / "mine"


def test_a_kits_target_path_names_its_release() -> None:
    assert target_path("Accounting", "3.0.42.5", "Accounting_3_0_42_5.cfu") == (
        "configurations/Accounting/3.0.42.5/Accounting_3_0_42_5.cfu"
    )
    assert target_path(None, "8.3.25.1286", "setup_8_3_25_1286.deb") == "platform/8.3.25.1286/setup_8_3_25_1286.deb"


@pytest.mark.parametrize(
    ("configuration", "version", "name"),
    [
        ("Accounting", "3.0.42.5", "../../etc/passwd"),
        ("../x", "1.0", "kit.cfu"),
        (None, "1.0/..", "kit"),
        (None, "1.0", ".hidden"),
        (None, "1.0", ""),
    ],
)
def test_a_target_path_never_climbs_out(configuration: str | None, version: str, name: str) -> None:
    with pytest.raises(ValueError, match="not a plain name"):
        target_path(configuration, version, name)


def test_routes_through_a_gateway_and_per_service_name_the_same_calls() -> None:
    gateway = Routes.gateway("https://its.example.com/")
    assert (gateway.token, gateway.me, gateway.update_plan) == (
        "https://its.example.com/oauth/token",
        "https://its.example.com/api/identity/v1/me",
        "https://its.example.com/api/updates/v1/update-plan",
    )
    assert (
        gateway.attachment("q-1", "a b.png")
        == "https://its.example.com/api/support/v1/questions/q-1/attachments/a%20b.png"
    )
    direct = Routes.per_service(
        identity="http://i:1",
        registration="http://r:5",
        contracts="http://c:2",
        updates="http://u:3",
        support="http://s:4",
    )
    assert (direct.system, direct.revoke, direct.support_status, direct.registrations) == (
        "http://i:1",
        "http://i:1/oauth/revoke",
        "http://c:2/v1/support-status",
        "http://r:5/v1/registrations",
    )


def test_attachments_go_under_plain_names_of_their_own() -> None:
    assert attachment_name("Ошибка при проведении.png") == "attachment.png"
    assert attachment_name("my file (1).png") == "my_file_1.png"
    assert attachment_name("error.png", frozenset({"error.png", "error-2.png"})) == "error-3.png"
    assert len(attachment_name("a" * 300 + ".txt")) == 200
