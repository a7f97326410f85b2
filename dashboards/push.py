"""Pushing the dashboards to an existing Grafana with grafana-client."""

from __future__ import annotations

from typing import Any

from grafana_client.api import GrafanaApi

from dashboards.build import all_dashboards


def push(url: str, token: str, folder_uid: str | None = None) -> list[str]:
    """Create or overwrite every CardPulse dashboard; returns their URLs in Grafana."""
    api = GrafanaApi.from_url(url, credential=token)
    urls = []
    for board in all_dashboards():
        payload: dict[str, Any] = {"dashboard": board, "overwrite": True,
                                   "message": "cardpulse dashboards push"}
        if folder_uid:
            payload["folderUid"] = folder_uid
        answer = api.dashboard.update_dashboard(payload)
        urls.append(str(answer.get("url", board["uid"])))
    return urls
