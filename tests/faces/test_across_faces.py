"""Points written through one legacy face read back through another: what the iobeam client
sends, the IOTile client's `StreamData` reads, with the same timestamps and values."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.faces import test_iobeam as iobeam_face
from tests.faces import test_iotile as iotile_face
from tests.support.accounts import TestUser
from tests.support.live import LiveServer

T0_MS = 1_700_000_000_000

WRITE = """
builder = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
              .registerDevice("cross-faces")
client = builder.build()
t0 = int(os.environ["T0"])
for i, value in enumerate([7, 8, 9]):
    client.addDataPoint("depth", iobeam.DataPoint(value, timestamp=t0 + i * 1000))
client.send()
report(device=client.getDeviceId())
"""

READ = """
from iotile_cloud.stream.data import StreamData
c = Api(domain=URL)
c.login(email=EMAIL, password=PASSWORD)
data = StreamData(os.environ["STREAM"], c)
data.initialize_from_server(lastn=10)
out["lastn"] = [[r["timestamp"], r["value"]] for r in data.data]
data.initialize_from_server(start=os.environ["START"], end=os.environ["END"])
out["range"] = [r["value"] for r in data.data]
c.logout()
"""


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iobeam_writes_read_back_through_the_iotile_client(server: LiveServer,
                                                           user: TestUser) -> None:
    project = int(user.home_project["id"])
    token = iobeam_face.mint(server, user.token, project)
    written = iobeam_face.run(server, WRITE, token, project, T0=str(T0_MS))
    assert written["device"] == "cross-faces"
    with user.client() as c:
        streams = c.get(f"/projects/{project}/streams",
                        params={"device": "cross-faces", "series": "depth"}).json()["results"]
    assert len(streams) == 1, streams
    ran = iotile_face.run(server, user, READ, STREAM=streams[0]["gid"],
                          START=iso(T0_MS + 1000), END=iso(T0_MS + 2000))
    assert [value for _, value in ran["lastn"]] == [7.0, 8.0, 9.0]
    assert [stamp[:19] for stamp, _ in ran["lastn"]] == [
        iso(T0_MS + i * 1000)[:19] for i in range(3)]
    assert ran["range"] == [8.0, 9.0]  # start and end are both inclusive
