"""Building the operator clients from settings (one account per operator)."""

from __future__ import annotations

import httpx

from connectors.base import OperatorClient
from connectors.ctcc import CtccClient
from connectors.jasper import JasperClient
from connectors.onelink import OneLinkClient
from core.settings import Settings


def build_clients(settings: Settings, http: httpx.AsyncClient) -> dict[str, OperatorClient]:
    base = settings.operator_url
    return {
        "onelink": OneLinkClient(http, base, settings.onelink_appid,
                                 settings.onelink_password.get_secret_value()),
        "jasper": JasperClient(http, base, settings.jasper_username,
                               settings.jasper_api_key.get_secret_value()),
        "ctcc": CtccClient(http, base, settings.ctcc_user_id,
                           settings.ctcc_password.get_secret_value(),
                           settings.ctcc_key.get_secret_value()),
    }
