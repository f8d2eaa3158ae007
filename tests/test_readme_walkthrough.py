"""The README's walkthrough is executable truth: its shell blocks marked ``walkthrough: run`` are run, in order and
in one bash session, against a live stack (daphne and the task worker, tests/contract/live_stack.py) over a seeded
tiny demo, and what each block prints must match the "you should see" block after it.

The blocks run in a scratch folder laid out like a clone (``.venv``, ``manage.py``, ``notebooks/``, and ``var/``
being the live stack's own folder, where the demo's "SMS" land), with ``BASE`` set to the live server. While they
run, the dispatcher's live-board socket (what /backoffice/staffing/board/ listens to) must see the order filled.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.contract.live_stack import LiveStack, live_stack_running

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARK = re.compile(r"<!-- walkthrough: (run|skip[^>]*) -->\n```sh\n(.*?)```", re.S)
EXPECTED = re.compile(r"```text\n(.*?)```", re.S)
#: The demo the walkthrough runs on: the tiny world with a week of history (so notebook 01 has visits to draw).
SEED = ("seed_demo", "--size", "tiny", "--history-days", "7")


@dataclass(frozen=True)
class Step:
    number: int
    script: str
    expected: list[str]  # the "you should see" lines, with <...> for what differs between runs


def walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Walkthrough")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def steps(section: str) -> list[Step]:
    out = []
    for match in MARK.finditer(section):
        if match.group(1) != "run":
            continue
        after = EXPECTED.search(section, match.end())
        assert after is not None, f"no 'you should see' block after:\n{match.group(2)}"
        next_block = MARK.search(section, match.end())
        assert next_block is None or after.start() < next_block.start(), f"no expected output for:\n{match.group(2)}"
        lines = [line.strip() for line in after.group(1).splitlines() if line.strip()]
        out.append(Step(len(out) + 1, match.group(2), lines))
    return out


def line_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"<[^<>]+>", template)
    return re.compile(".+?".join(re.escape(p) for p in parts))


def test_every_shell_block_of_the_walkthrough_is_marked_and_each_run_block_says_what_you_see() -> None:
    section = walkthrough()
    blocks = section.count("```sh\n")

    assert blocks == len(MARK.findall(section))  # a block without its marker would be silently left out
    found = steps(section)
    assert len(found) >= 4 and all(step.expected for step in found)


class BoardSocket:
    """The dispatcher's live-board socket, read after the fact (messages wait in the connection)."""

    def __init__(self, live: LiveStack, token: str, organization_id: int) -> None:
        self.ws = websocket.create_connection(
            f"{live.ws_url}/ws/v1/staffing/board/?organization_id={organization_id}",
            subprotocols=["bearer", token],
            timeout=10,
            suppress_origin=True,
        )

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                message = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            seen.append(message)
            if predicate(message):
                return message
        raise AssertionError(f"no matching board message within {timeout} s; got {seen}")


@pytest.fixture(scope="module")
def demo_stack(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveStack, float]]:
    from django.conf import settings

    if settings.IS_POSTGRES:  # the walkthrough is `make demo`'s embedded default; once, in the SQLite leg
        pytest.skip("the README walks through the embedded default (SQLite)")
    took: list[float] = []

    def seed(env: dict[str, str]) -> None:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "manage.py", *SEED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        took.append(time.monotonic() - started)

    # A generous start-up: the server's first request imports the whole URLconf, slow on a loaded machine.
    folder = tmp_path_factory.mktemp("walkthrough")
    with live_stack_running(folder, django_db_blocker, prepare=seed, startup_timeout=240) as live:
        yield live, took[0]


def _clone_like(folder: Path, live: LiveStack) -> Path:
    """A folder laid out as the README's clone: the venv, manage.py, the notebooks, and var/ = the stack's."""
    folder.mkdir()
    (folder / ".venv").symlink_to(sys.prefix)
    (folder / "manage.py").symlink_to(ROOT / "manage.py")
    (folder / "var").symlink_to(live.tmp)
    (folder / "notebooks").mkdir()
    for notebook in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy(notebook, folder / "notebooks" / notebook.name)
    return folder


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.timeout(900)
def test_the_readme_walkthrough_runs_as_written(
    demo_stack: tuple[LiveStack, float], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live, seeded_in = demo_stack
    found = steps(walkthrough())
    clone = _clone_like(tmp_path / "brigada", live)
    home = tmp_path / "home"
    env = {
        **live.env,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings.base",
        "BASE": live.url,
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    env.pop("BRIGADA_WAREHOUSE", None)  # the notebook must read the warehouse the walkthrough exports
    # The dispatcher's board, open before the walkthrough starts (the page in the browser, without the browser).
    dispatcher = live.login_token("+79110000002")
    board = BoardSocket(live, dispatcher, organization_id=_hq_id(live, dispatcher))
    board.wait_for(lambda m: m.get("type") == "board.snapshot")

    script = "".join(f'echo "@@step {s.number} $(date +%s.%N)"\n{s.script}\n' for s in found)
    script += 'echo "@@step end $(date +%s.%N)"\n'
    done = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    outputs, stamps = _split(done.stdout)
    for step in found:
        lines = [line.strip() for line in outputs[step.number]]
        for template in step.expected:
            pattern = line_pattern(template)
            assert any(pattern.fullmatch(line) for line in lines), (
                f"step {step.number}: no line like {template!r} in\n" + "\n".join(lines) + "\n" + done.stderr[-2000:]
            )
    # The order filled on the live board: the accept reached the board's socket.
    board.wait_for(
        lambda m: (
            m.get("type") == "board.shift"
            and any(s["order_title"] == "Unload a truck" and s["accepted"] == s["headcount"] == 1 for s in m["shifts"])
        )
    )
    page = clone / "var" / "01_clients_and_cohorts.html"
    assert page.exists() and "data:image/png" in page.read_text(encoding="utf-8")
    with capsys.disabled():
        spans = [f"step {n}: {stamps[n + 1] - stamps[n]:.1f}s" for n in range(1, len(found) + 1)]
        print(f"\nREADME walkthrough: seed {seeded_in:.1f}s, " + ", ".join(spans))


def _hq_id(live: LiveStack, token: str) -> int:
    import httpx

    sites = httpx.get(f"{live.url}/api/v1/staffing/sites", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert sites.status_code == 200, sites.text
    return int(sites.json()["items"][0]["organization_id"])


def _split(stdout: str) -> tuple[dict[int, list[str]], dict[int, float]]:
    outputs: dict[int, list[str]] = {}
    stamps: dict[int, float] = {}
    current = 0
    for line in stdout.splitlines():
        marker = re.fullmatch(r"@@step (\d+|end) ([\d.]+)", line)
        if marker:
            current = int(marker.group(1)) if marker.group(1) != "end" else len(outputs) + 1
            stamps[current] = float(marker.group(2))
            outputs.setdefault(current, [])
        else:
            outputs.setdefault(current, []).append(line)
    return outputs, stamps
