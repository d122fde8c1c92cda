"""Each service's OpenAPI document says exactly what the service does: schemathesis (every check, the stateful
phase on, a fixed seed, derandomized) against the service running as a real process, as a customer (owner), a
partner system and an operator — the token for each operation by the security scheme it declares.

A failure fails the test with schemathesis' own report: each failing request, reproducible with the curl command
it prints. Nothing is skipped silently: every relaxation of a check is in `CONFIG` with its reason."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.contract.conftest import Callers
from tests.infra import ROOT, ServiceProcess

SERVICES = ("identity", "registration", "contracts", "updates", "support", "notifications")
SEED = 20260415
MAX_EXAMPLES = 60  # per operation and phase: the whole run stays within a few minutes on two cores
STATEFUL_STEPS = 15

CONFIG = """\
seed = {seed}
# One worker: the run is derandomized and repeatable, and CPython 3.11's ast.parse (hypothesis describing a
# filter) is not safe in two threads at once ("AST constructor recursion depth mismatch").
workers = 1
request-timeout = 20
max-failures = 50
[generation]
deterministic = true
max-examples = {max_examples}
# Text with U+0000 is refused by every service (422, shared.parsing.fields_with_nul: PostgreSQL cannot store it); JSON
# Schema could only say so with a pattern on every string, so valid data is generated without it. Negative data
# still carries it.
allow-x00 = false
[checks]
enabled = true
# negative_data_rejection: a text over its maxLength may make the body itself larger than the service reads
# (client_max_size): that is refused before the fields are, with the 413 every operation with a body documents.
negative_data_rejection.expected-statuses = [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"
]
[phases.stateful]
max-steps = {steps}

# positive_data_acceptance: a request valid by the document may still be refused (422, or RFC 6749's 400) where
# the rule it breaks is not a JSON Schema, each operation's document saying so (its 422 is listed):
[[operations]]
include-operation-id = [
    # ACC-1's password policy (common passwords, the login or e-mail as password) and the current password (ACC-4's
    # e-mail change too: and an address that is the account's already or another's)
    "register_account", "register_and_accept", "change_password", "confirm_password_reset", "request_email_change",
    # REG: the number must be issued and its PIN right (REG-2, REG-5, REG-7); a subscriber code must exist;
    # the product's configurations must be in the catalogue; a PIN only for products delivered with envelopes
    "register_with_pin", "authorise", "transfer", "put_product", "issue_numbers",
    # ITS-1 (the period, the numbers posted must be known), ITS-6 (TIN and KPP check digits), CMS-1..7 (the
    # activation code, the configuration, the partner), text that is only whitespace once trimmed
    "post_contract", "correct_organisation", "report_organisation_error", "activate", "choose_partner",
    "get_coverage", "get_support_status", "why_not_listed",
    # UPD: kits named once, platform kits name their os and arch, updates_from older than the release, a kit's
    # bytes match its declared size and sha256, a configuration of registration's catalogue, a chain that exists
    "put_configuration_release", "put_platform_release", "put_kit_content", "put_article", "update_plan",
    "withdraw", "publish",
    # DAT-2: a form's configurations in registration's catalogue, one spelling of a version (5.01 is 5.1), a file's
    # bytes matching its declared size and sha256
    "put_form_version", "put_form_file",
    # SUP-1: the number must be one of the subscriber's registered products, covered (ITS-7), the partner one of
    # those accompanying it; minutes spent are the staff's and required of them; an attachment's bytes must be of its
    # declared type
    "ask_question", "post_message", "put_attachment",
    # TUF: a root must be signed by its root keys' thresholds and be the next version; a delegated role's key must be
    # one the service holds (409 otherwise)
    "install_root", "delegate_key",
    # DAT-1: a rates file must be the bank's XML or our CSV, every record right (422 naming its lines)
    "import_rates",
    # a cursor is opaque: only one the list handed out is valid
    "partner_contracts", "list_releases", "list_forms", "list_deliveries", "list_configurations", "list_products",
    "list_users", "list_invitations", "list_partners", "list_staff", "partner_directory_list",
    "list_questions", "support_queue",
    # SUP-2: the same, and a search of only spaces is refused (422 naming q)
    "knowledge_search",
]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

[[operations]]
# RFC 6749 §5.2 / RFC 7009: a grant's own parameters (grant_type, username and password, refresh_token, client
# credentials) are checked by the grant, answered 400 invalid_request, as OAuth clients expect; not a form schema.
include-operation-id = ["token", "revoke"]
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"
]

[[operations]]
# DAT-1: the currencies must be the bank's, the days from 1991-01-01 to today and the period in order: read by the
# handler and answered 400 naming the parameter; a caller whose subscriber is not covered by ITS is refused (402, 403).
include-operation-id = ["exchange_rates"]
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "400", "401", "402", "403", "404", "409", "422", "429", "5xx"
]

[auth.openapi.customer]
bearer = "{customer}"
[auth.openapi.partner]
bearer = "{partner}"
[auth.openapi.operator]
bearer = "{operator}"
"""


@pytest.mark.parametrize("service", SERVICES)
async def test_the_service_answers_as_its_openapi_document_says(
    service: str, contract_services: dict[str, ServiceProcess], callers: Callers, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        CONFIG.format(
            seed=SEED,
            max_examples=MAX_EXAMPLES,
            steps=STATEFUL_STEPS,
            customer=callers.customer,
            partner=callers.partner,
            operator=callers.operator,
        )
    )
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{contract_services[service].url}/openapi.json",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    started = time.monotonic()
    result = await asyncio.to_thread(
        subprocess.run,
        command,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={
            "NO_COLOR": "1",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
        },
    )
    elapsed = time.monotonic() - started
    summary = result.stdout[-60_000:]
    print(f"schemathesis {service}: {elapsed:.0f} s\n{summary}")
    assert result.returncode == 0, (
        f"schemathesis found failures in {service} ({elapsed:.0f} s):\n{summary}\n{result.stderr[-5000:]}"
    )
