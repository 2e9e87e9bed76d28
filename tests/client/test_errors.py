"""Every error class, from the server's real answers and from the debug status endpoint."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

import cloudlet
from cloudlet import (
    APIError,
    BadRequest,
    Client,
    ClientError,
    CloudletError,
    ConfigError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Timeout,
    TransportError,
    Unauthorized,
    ValidationError,
)
from tests.client.conftest import FAST
from tests.conftest import Launch
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer, free_port

BY_STATUS = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: PayloadTooLarge, 422: ValidationError, 429: RateLimited, 418: ClientError,
    451: ClientError, 500: ServerError, 501: ServerError, 503: ServerError,
}


@pytest.mark.parametrize("status", sorted(BY_STATUS))
def test_each_status_has_its_class(server: LiveServer, status: int) -> None:
    with Client(server.url, server.admin_token, retries=0) as c:
        with pytest.raises(APIError) as caught:
            c.get(f"_debug/status/{status}")
    error = caught.value
    assert type(error) is BY_STATUS[status]
    assert error.status_code == status
    assert error.detail == f"deliberate {status}"
    assert error.response is not None and error.response.status_code == status
    assert str(error).startswith(f"{status} ") and str(error).endswith(f"deliberate {status}")


def test_the_tree_lets_callers_catch_a_branch() -> None:
    assert issubclass(NotFound, ClientError) and issubclass(ClientError, APIError)
    assert issubclass(ServerError, APIError) and not issubclass(ServerError, ClientError)
    assert issubclass(Timeout, TransportError) and issubclass(ConnectionFailed, TransportError)
    for cls in (APIError, TransportError, ConfigError):
        assert issubclass(cls, CloudletError)


def test_bad_json_is_a_400(client: Client) -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        client.request("POST", "/projects", content=b'{"name": ',
                       headers={"Content-Type": "application/json"})


def test_wrong_and_missing_credentials_are_401(server: LiveServer) -> None:
    with Client(server.url, "clt_not-a-real-token", retries=0) as c, pytest.raises(Unauthorized):
        c.me()
    with Client(server.url, retries=0) as c, pytest.raises(Unauthorized, match="Authentication"):
        c.me()


def test_a_read_token_cannot_write_403(server: LiveServer, user: TestUser) -> None:
    with Client(server.url, user.api_token(scope="read"), retries=0) as c:
        with pytest.raises(Forbidden) as caught:
            c.projects.create("nope")
    assert caught.value.detail


def test_missing_project_is_404(client: Client) -> None:
    with pytest.raises(NotFound):
        client.projects.get("p--0fff-ffff")


def test_taken_org_slug_is_409(client: Client) -> None:
    slug = f"org-{uuid.uuid4().hex[:10]}"
    client.orgs.create("Acme", slug=slug)
    with pytest.raises(Conflict):
        client.orgs.create("Acme again", slug=slug)


def test_oversized_body_is_413(client: Client) -> None:
    with pytest.raises(PayloadTooLarge):
        client.projects.create("big", description="x" * ((1 << 20) + 1))


def test_invalid_fields_are_422_with_field_errors(client: Client) -> None:
    with pytest.raises(ValidationError) as caught:
        client.post("/projects", {"name": ""})
    assert caught.value.status_code == 422
    assert [e["field"] for e in caught.value.errors] == ["name"]


def test_login_throttling_is_429_with_retry_after(launch: Launch) -> None:
    server = launch(CLOUDLET_LOGIN_MAX_FAILURES_ACCOUNT="2")
    victim = make_user(server)
    with Client(server.url, retries=FAST) as c:
        for _ in range(2):
            with pytest.raises(Unauthorized):
                c.login(victim.username, "wrong password")
        with pytest.raises(RateLimited) as caught:
            c.login(victim.username, "wrong password")
    assert caught.value.retry_after is not None and caught.value.retry_after > 0


def test_nothing_listening_is_a_connection_failure() -> None:
    with Client(f"http://127.0.0.1:{free_port()}", retries=0) as c:
        with pytest.raises(ConnectionFailed) as caught:
            c.get("health")
    assert caught.value.response is None and caught.value.status_code is None


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_server_that_never_answers_is_a_timeout(silent_port: int) -> None:
    with Client(f"http://127.0.0.1:{silent_port}", timeout=0.2, retries=0) as c:
        with pytest.raises(Timeout):
            c.get("health")


def test_no_url_anywhere_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CLOUDLET_URL"):
        Client()
    with pytest.raises(ConfigError, match="http"):
        Client("ftp://example.com")


def test_errors_are_exported_from_the_package() -> None:
    for cls in set(BY_STATUS.values()) | {Timeout, ConnectionFailed, ConfigError}:
        assert getattr(cloudlet, cls.__name__) is cls
