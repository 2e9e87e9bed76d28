"""Each legacy client installs into its own venv and imports there, apart from the suite's."""

from __future__ import annotations

import pytest

from tests.support.legacy import AMIGOCLOUD, IOBEAM, IOTILE, RINOCLOUD, LegacyClient

IMPORTS = {
    "amigocloud": "amigocloud",
    "iotile": "iotile_cloud.api.connection",
    "iobeam": "iobeam.iobeam",
    "rinocloud": "rinocloud",
}


@pytest.mark.parametrize("client", [AMIGOCLOUD, IOTILE, IOBEAM, RINOCLOUD], ids=lambda c: c.name)
def test_client_imports_in_its_own_venv(client: LegacyClient) -> None:
    found = client.run(f"""
        import importlib, json, sys
        importlib.import_module({IMPORTS[client.name]!r})
        print(json.dumps({{"prefix": sys.prefix}}))
    """, timeout=120)
    assert found["prefix"] == str(client.home)
