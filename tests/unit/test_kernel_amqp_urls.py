"""`ITS_AMQP_URL`: one broker URL, or a cluster's nodes separated by commas, checked when settings are read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from shared.settings import BaseServiceSettings, amqp_urls


def test_one_url_is_still_one_url() -> None:
    assert amqp_urls("amqp://guest:guest@127.0.0.1:5672/") == ["amqp://guest:guest@127.0.0.1:5672/"]


def test_several_urls_are_the_nodes_in_order() -> None:
    value = (
        "amqps://its:s3cret@rabbit-0:5671/its, amqps://its:s3cret@rabbit-1:5671/its ,amqps://its:s3cret@rabbit-2/its"
    )
    assert amqp_urls(value) == [
        "amqps://its:s3cret@rabbit-0:5671/its",
        "amqps://its:s3cret@rabbit-1:5671/its",
        "amqps://its:s3cret@rabbit-2/its",
    ]


def test_a_comma_in_a_password_is_percent_encoded() -> None:
    assert amqp_urls("amqp://its:a%2Cb@rabbit-0/its") == ["amqp://its:a%2Cb@rabbit-0/its"]


@pytest.mark.parametrize(
    "value",
    [
        "http://rabbit-0:5672/",  # not AMQP
        "amqp://rabbit-0/,",  # an empty element
        "amqp://rabbit-0/,,amqp://rabbit-1/",
        "rabbit-0:5672",  # no scheme
        "amqp:///its",  # no host
    ],
)
def test_anything_else_is_refused_when_the_settings_are_read(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITS_AMQP_URL", value)
    with pytest.raises(ValidationError, match="amqp_url"):
        BaseServiceSettings()


def test_the_deployment_files_hold_valid_broker_urls() -> None:
    root = Path(__file__).resolve().parents[2] / "deploy"
    secret = yaml.safe_load((root / "k8s" / "secret.yaml").read_text())
    assert len(amqp_urls(secret["stringData"]["ITS_AMQP_URL"])) == 3  # the cluster's nodes
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    assert len(amqp_urls(compose["x-its-env"]["ITS_AMQP_URL"])) == 1
