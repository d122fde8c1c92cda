"""deploy/grafana's dashboards: valid dashboard JSON whose every expression names metrics the services export (or
the recording rules write), with the Prometheus data source chosen by the one who imports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra import ROOT
from tests.metric_names import exported_metrics, metric_names, recorded_metrics

DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))


def expressions(dashboard: dict[str, Any]) -> list[str]:
    found = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append(variable["definition"].removeprefix("label_values(").rsplit(",", 1)[0])
    return found


def test_there_are_the_dashboards_the_operations_page_names() -> None:
    assert [path.name for path in DASHBOARDS] == ["downloads.json", "overview.json", "processing-day.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_every_expression_names_metrics_the_services_export(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    known = exported_metrics() | recorded_metrics()
    assert expressions(dashboard)
    for expr in expressions(dashboard):
        unknown = metric_names(expr) - known
        assert not unknown, f"{path.name}: {expr} names {unknown}, which no service exports"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_a_dashboard_has_unique_panels_on_its_grid_and_a_chosen_data_source(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"].startswith("its-") and dashboard["schemaVersion"] >= 36
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        spot = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & spot, f"{panel['title']} overlaps another panel"
        cells |= spot
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
    assert any(v["name"] == "datasource" and v["type"] == "datasource" for v in dashboard["templating"]["list"])
