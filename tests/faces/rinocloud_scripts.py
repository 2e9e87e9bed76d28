"""The RinoCloud tutorial (seed 004, kept verbatim in `rinocloud_tutorial.md`) as one script
of its snippets with only the corrections issue 13 names, and a runner for scripts under any
Python (the suite's, or the legacy venv's) that returns the JSON of their last stdout line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

TUTORIAL = Path(__file__).with_name("rinocloud_tutorial.md")
HOSTED = "https://rinocloud.com/api/1/"
PROOF = "riemman_hypothesis_proof.txt"
# what the harness points each snippet's `<object-id>` at (the reader fills it in)
TARGETS = {
    "Getting Metadata": "file_id",
    "Getting Childrens of object": "folder_id",
    "Getting Ancestors of Object": "file_id",
    "Downloading File": "file_id",
    "Downloading a large file": "file_id",
}


PROOF_LINE, PROOF_LINES = b"zeta(1/2 + %d i) = 0\n", 310_000


def proof_content() -> bytes:
    """The file the tutorial uploads: past one 6 MiB etag part, so its etag has two."""
    return b"".join(PROOF_LINE % i for i in range(PROOF_LINES))


def snippets() -> list[tuple[str, str]]:
    """(section title, code) for every python block of the tutorial, in order."""
    found = []
    for section in TUTORIAL.read_text().split("\n### ")[1:]:
        title, _, rest = section.partition("\n")
        block = re.search(r"\{% highlight python %\}\n(.*?)\{% endhighlight %\}", rest, re.S)
        if block:
            found.append((title.strip(), textwrap.dedent(block.group(1))))
    return found


def corrected(code: str, base: str, token: str) -> str:
    """The named corrections (Python 3's print, `status_code` for `status`, `True` for
    `true`, and `download_file`'s slips: headers passed positionally as query parameters,
    and its sample call leaving out the filename), then the URL, the token and the ids."""
    code = re.sub(r"^(\s*)print (.+?)(\s+#.*)?$",
                  lambda m: f"{m[1]}print({m[2]}){m[3] or ''}", code, flags=re.M)
    code = re.sub(r"\br\.status\b", "r.status_code", code)
    code = re.sub(r"\btrue\b", "True", code)
    code = code.replace("requests.get(url, headers, stream=True)",
                        "requests.get(url, headers=headers, stream=True)")
    code = code.replace("?id=<object-id>', headers=headers)",
                        "?id=<object-id>', 'downloaded_proof.txt', headers=headers)")
    code = code.replace(HOSTED, base)
    code = code.replace("'<your token>'", repr(token))
    code = code.replace("'<object-id>'", "str(OBJECT_ID)")
    code = code.replace("?id=<object-id>'", "?id=' + str(OBJECT_ID)")
    code = code.replace("'<object-id1>'", "str(OBJECT_IDS[0])")
    return code.replace("'<object-id2>'", "str(OBJECT_IDS[1])")


def tutorial_script(base: str, token: str) -> str:
    """The corrected snippets in order, with harness lines between them that fill in the
    ids and note what each answered; the last line printed is the JSON of all that."""
    parts = [
        "import hashlib, json  # the tutorial calls json.dumps without importing json",
        "seen = {}",
        f"with open({PROOF!r}, 'wb') as out:",
        f"    out.write(b''.join({PROOF_LINE!r} % i for i in range({PROOF_LINES})))",
    ]
    for title, code in snippets():
        if title in TARGETS:
            parts.append(f"OBJECT_ID = {TARGETS[title]}")
        if title == "Delete File":
            parts.append("OBJECT_IDS = [file_id, folder_id]")
        parts.append(f"# --- {title}")
        parts.append(corrected(code, base, token))
        parts.append(_capture(title))
    parts.append("print(json.dumps({'seen': seen, 'folder_id': folder_id, "
                 "'file_id': file_id}))")
    return "\n".join(parts) + "\n"


def _capture(title: str) -> str:
    if title == "Accessing rinocloud":
        return ""
    if title == "Downloading a large file":  # `r` is the local filename here
        return (f"seen[{title!r}] = {{'file': r, 'sha256': "
                "hashlib.sha256(open(r, 'rb').read()).hexdigest()}")
    extra = {
        "Getting Metadata": "'json': metadata",
        "Getting Childrens of object": "'json': children",
        "Getting Ancestors of Object": "'json': r.json()",
        "Downloading File": "'sha256': hashlib.sha256(r.content).hexdigest()",
        "Delete File": "'body': r.text",
    }.get(title, "'json': r.json()")
    return f"seen[{title!r}] = {{'status': r.status_code, {extra}}}"


class ScriptFailed(AssertionError):
    pass


def run_python(python: str | os.PathLike[str], script: str, cwd: Path, *,
               env: dict[str, str] | None = None, timeout: float = 180) -> Any:
    """Run `script` with `python` in `cwd`; the JSON of its last stdout line."""
    path = cwd / "script.py"
    path.write_text(script)
    base = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")}
    done = subprocess.run([str(python), str(path)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**base, "PYTHONUNBUFFERED": "1", **(env or {})})
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ScriptFailed(f"exit {done.returncode}\nstdout:\n{done.stdout[-3000:]}\n"
                           f"stderr:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])
