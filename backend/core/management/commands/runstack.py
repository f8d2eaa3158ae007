"""``manage.py runstack``: the whole product in one terminal for ``make demo``.

Starts, as child processes, daphne serving ``backend.config.asgi:application`` (HTTP + WebSockets), the supervised
task worker (``run_worker``) and, when ``TELEGRAM_BOT_TOKEN`` is set and the bot is installed, the bot in
polling mode. Prints the URLs; Ctrl-C stops everything. A worker or bot that dies is restarted; if the web
server dies the stack stops.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from argparse import ArgumentParser
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import BaseCommand

logger = logging.getLogger("brigada.runstack")

RESTART_DELAY = 2.0
STOP_GRACE = 10.0


@dataclass
class Child:
    name: str
    argv: list[str]
    essential: bool
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if this supervisor is killed, so no worker outlives its stack."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _manage(*args: str) -> list[str]:
    return [sys.executable, "-m", "django", *args]


class Command(BaseCommand):
    help = "Serve HTTP + WebSockets (daphne) with the task worker (and the Telegram bot when configured)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="do not start the task worker")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings.base")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(settings.BASE_DIR), env.get("PYTHONPATH", "")) if p)
        self.env = env

        if settings.DEBUG:
            # Daphne's runserver: the same ASGI application, plus the admin's static files in development.
            web = _manage("runserver", "--noreload", "--skip-checks", f"{host}:{port}")
        else:
            web = [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "backend.config.asgi:application"]
        children = [Child("web", web, essential=True)]
        if not options["no_worker"]:
            children.append(Child("worker", _manage("run_worker"), essential=False))
        bot = self._bot_child()
        if bot is not None:
            children.append(bot)

        self.children = children
        self.stopping = False
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)

        for child in children:
            self._start(child)
        self._banner(host, port)
        try:
            self._supervise()
        finally:
            self._stop_all()

    def _bot_child(self) -> Child | None:
        if not settings.TELEGRAM_BOT_TOKEN:
            self.stdout.write("Telegram bot: off (set TELEGRAM_BOT_TOKEN to start it in polling mode)")
            return None
        if "runbot" not in get_commands():
            self.stdout.write("Telegram bot: TELEGRAM_BOT_TOKEN is set but the bot is not installed yet; skipping")
            logger.info("bot not installed; skipping")
            return None
        return Child("bot", _manage("runbot"), essential=False)

    def _banner(self, host: str, port: int) -> None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a wildcard is not a URL
        base = f"http://{shown}:{port}"
        lines = [
            "",
            "Brigada is starting:",
            f"  back office   {base}/admin/",
            f"  API docs      {base}/api/v1/docs",
            f"  OpenAPI       {base}/api/v1/openapi.json",
            f"  health        {base}/healthz",
            f"  WebSocket     ws://{shown}:{port}/ws/v1/events/?token=<access token>",
            f"  processes     {', '.join(c.name for c in self.children)} (Ctrl-C stops all)",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _start(self, child: Child) -> None:
        # Own process group: a terminal's Ctrl-C reaches only this supervisor, which then stops each child once
        # (a second signal would make the worker abandon its current task).
        child.process = subprocess.Popen(  # noqa: S603
            child.argv, env=self.env, cwd=str(settings.BASE_DIR), process_group=0, preexec_fn=_die_with_parent
        )
        child.started_at = time.monotonic()
        logger.info("started", extra={"child": child.name, "pid": child.process.pid})

    def _supervise(self) -> None:
        while not self.stopping:
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is None or self.stopping:
                    continue
                if child.essential:
                    self.stderr.write(f"{child.name} exited with code {code}; stopping the stack")
                    self.stopping = True
                    self.exit_code = code or 1
                    break
                child.restarts += 1
                self.stderr.write(f"{child.name} exited with code {code}; restarting (restart #{child.restarts})")
                time.sleep(RESTART_DELAY)
                self._start(child)
            time.sleep(0.5)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.stdout.write("\nstopping ...")

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        self.stdout.write("stopped")
        if getattr(self, "exit_code", 0):
            sys.exit(self.exit_code)
