"""The README's configuration table names every setting the server reads, and its SQL
example runs as shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cloudlet.server.settings import describe
from tests.datasets.helpers import imported
from tests.support.accounts import TestUser

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [env for env, _, _ in describe() if f"| `{env}` |" not in README]
    assert missing == []


def test_the_two_commands_are_documented() -> None:
    assert "make run" in README and "make test" in README


def test_the_sql_example_runs_as_documented(user: TestUser) -> None:
    """The SQL section's first block: its CSV imported, its query sent, its answer shown."""
    block = README.split("runs in tests/test_readme.py: the import, the query, its answer",
                         1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    csv = re.search(r"printf '(.*?)' > landmarks\.csv", block)
    query = re.search(r'--data-urlencode \\\n\s*"query=(.*?)"\n', block, re.S)
    shown = re.search(r"^# (\{\"columns\".*?\"previous\": null\})$", block, re.S | re.M)
    assert csv and query and shown, block
    p = user.home_project["id"]
    with user.client() as c:
        ds = imported(c, p, csv.group(1).replace("\\n", "\n").encode(), "landmarks.csv")
        sql = re.sub(r"\s+", " ", query.group(1)).replace("dataset_12", ds["table_name"])
        answer = c.get(f"/projects/{p}/sql", params={"query": sql})
    assert answer.status_code == 200, answer.text
    assert answer.json() == json.loads(re.sub(r"\n#\s*", " ", shown.group(1)))
