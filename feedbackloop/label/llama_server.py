"""Start and stop llama.cpp's OpenAI-compatible server (llama-cpp-python[server], the ``llm`` extra)."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from feedbackloop.label.models import ModelNotInstalled, resolve_model
from feedbackloop.settings import Settings


class LlamaServerUnavailable(RuntimeError):
    """The server cannot run here (extra not installed, model missing, or it did not come up)."""


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class LlamaServer:
    def __init__(
        self, model_path: Path, alias: str, host: str, port: int, threads: int, ctx: int, log_path: Path
    ) -> None:
        self.model_path = model_path
        self.alias = alias
        self.host = host
        self.port = port
        self.threads = threads
        self.ctx = ctx
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @classmethod
    def from_settings(cls, settings: Settings, port: int | None = None) -> LlamaServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise LlamaServerUnavailable("llama-cpp-python is not installed: pip install -e '.[llm]'")
        try:
            model_path = resolve_model(settings.llm_server_model, Path(settings.llm_model_cache_dir))
        except ModelNotInstalled as error:
            raise LlamaServerUnavailable(str(error)) from error
        return cls(
            model_path=model_path,
            alias=settings.llm_model or settings.llm_server_model,
            host=settings.llm_server_host,
            port=port or settings.llm_server_port,
            threads=settings.llm_server_threads,
            ctx=settings.llm_server_ctx,
            log_path=Path(settings.llm_model_cache_dir) / f"llama-server-{port or settings.llm_server_port}.log",
        )

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.alias,
            "--host", self.host,
            "--port", str(self.port),
            "--n_threads", str(self.threads),
            "--n_ctx", str(self.ctx),
        ]  # fmt: skip

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 180.0) -> LlamaServer:
        if _port_open(self.host, self.port):
            raise LlamaServerUnavailable(f"port {self.port} on {self.host} is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-1500:]
                raise LlamaServerUnavailable(f"llama.cpp server exited with {self.process.returncode}:\n{tail}")
            if self.healthy():
                return self
            time.sleep(0.5)
        self.stop()
        raise LlamaServerUnavailable(f"llama.cpp server not healthy after {timeout:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()
