"""An import cut short by a server stop leaves no dataset, and its job says why once the
server is back."""

from __future__ import annotations

import time

from tests.datasets.helpers import names, upload
from tests.support.accounts import make_user
from tests.support.live import LiveServer, start_server


def test_stopped_import_is_failed_and_cleaned_up(launch: object) -> None:
    server: LiveServer = launch()  # type: ignore[operator]
    user = make_user(server)
    p = user.home_project["id"]
    data = ("a,b,c\n" + "".join(f"{i},x{i},{i * 0.5}\n" for i in range(600_000))).encode()
    with user.client() as c:
        job = upload(c, p, data, "big.csv", wait=0).json()
        deadline = time.monotonic() + 60
        while job["state"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.02)
            job = c.get(f"/projects/{p}/imports/{job['id']}").json()
    server.stop()
    env = {k: v for k, v in server.env.items() if k.startswith("CLOUDLET_")
           and k not in ("CLOUDLET_DATA_DIR", "CLOUDLET_DATABASE_URL")}
    again = start_server(server.env.get("CLOUDLET_DATABASE_URL"), env, server.data_dir)
    try:
        with again.client(user.token) as c:
            after = c.get(f"/projects/{p}/imports/{job['id']}").json()
            if after["state"] == "succeeded":  # the machine beat the stop: nothing to undo
                return
            assert after["state"] == "failed", after
            assert after["error"]["status"] == 503 and "stopped" in after["error"]["detail"]
            assert names(c, p) == []
        assert not list((server.data_dir / "tmp" / "imports").glob("**/upload-*"))
    finally:
        again.stop()
