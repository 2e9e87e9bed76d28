"""What the AmigoCloud face tests share: running a script with the real `amigocloud` 1.2.5
client against a live server, and datasets made natively (through the SDK) for it."""

from __future__ import annotations

from typing import Any

from cloudlet import Client
from tests.support.accounts import TestUser
from tests.support.legacy import AMIGOCLOUD
from tests.support.live import LiveServer

PRELUDE = """
    import json, os
    from amigocloud import AmigoCloud, AmigoCloudError
    BASE, TOKEN = os.environ["BASE"], os.environ["TOKEN"]
"""
ADDRESS_COLUMNS = [{"name": "address", "type": "text"},
                   {"name": "geom", "type": "geometry", "geometry_type": "point"}]


def run(server: LiveServer, token: str, body: str, *, timeout: float = 120, **env: str
        ) -> Any:
    """`body` (after the prelude) in the client's venv; its last stdout line, as JSON."""
    return AMIGOCLOUD.run(PRELUDE + body, env={"BASE": server.url + "/amigocloud",
                                               "TOKEN": token, **env}, timeout=timeout)


def address_dataset(server: LiveServer, user: TestUser, project: int, addresses: list[str],
                    name: str = "addresses") -> dict[str, Any]:
    """A dataset of `address` text and an empty `geom` point column, made through the SDK."""
    with Client(server.url, token=user.token, env=False, profile=False) as sdk:
        made = sdk.datasets.create(project, name, columns=ADDRESS_COLUMNS)
        for at in range(0, len(addresses), 500):
            sdk.datasets.add_rows(project, made["id"],
                                  [{"address": a} for a in addresses[at:at + 500]])
        return dict(sdk.datasets.get(project, made["id"]))


def gallery_for(server: LiveServer, user: TestUser, project: int
                ) -> tuple[dict[str, Any], list[str]]:
    """A dataset of two rows with a gallery, through the SDK; (gallery, the rows' amigo_ids)."""
    with Client(server.url, token=user.token, env=False, profile=False) as sdk:
        made = sdk.datasets.create(project, "trees", columns=ADDRESS_COLUMNS)
        added = sdk.datasets.add_rows(project, made["id"], [{"address": "oak"},
                                                            {"address": "elm"}])
        gallery = sdk.datasets.galleries.create(project, made["id"], "photos")
        return dict(gallery), [r["amigo_id"] for r in added["rows"]]
