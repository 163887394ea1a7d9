"""Turn a GGUF file into an ordinary transformers folder, once, and reuse it.

Loading a GGUF makes transformers dequantize every tensor in Python (tens of seconds to minutes on
CPU). The dequantized float32 model, its config and its tokenizer are saved to
`<cache root>/gguf/<sha256[:16]>/`, so every later load is a plain safetensors load that takes
seconds. The folder is written under a temporary name and renamed into place, so a crash or a
concurrent run never leaves a half-written cache that looks complete.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import torch

from lorabench.core.cache import cache_root
from lorabench.core.errors import LorabenchError

logger = logging.getLogger(__name__)

# Written last, so its presence means every other file in the folder is complete.
MARKER_FILE = "lorabench_gguf.json"


def gguf_cache_folder(sha256: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the converted model of the GGUF file with this hash lives (it may not exist yet)."""
    return cache_root(cache_dir) / "gguf" / sha256[:16]


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file; memoized per process on (path, size, mtime) since models are large."""
    stat = Path(path).stat()
    return _sha256_cached(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=32)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gguf_architecture(path: str | os.PathLike) -> str:
    """The `general.architecture` a GGUF file declares; LorabenchError if it is not a GGUF file."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
        field = reader.fields["general.architecture"]
    except (ValueError, KeyError, OSError) as error:
        raise LorabenchError(
            f"{path}: not a readable GGUF file ({error}); check the file is complete "
            "(re-download it) or point `model.name` at a transformers model folder"
        ) from None
    return str(field.contents())


def is_cached(sha256: str, cache_dir: str | os.PathLike | None = None) -> bool:
    """Whether a complete converted folder exists for this GGUF hash."""
    return (gguf_cache_folder(sha256, cache_dir) / MARKER_FILE).is_file()


def ensure_converted(
    gguf_path: str | os.PathLike, sha256: str, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Return the cached transformers folder for `gguf_path`, converting the file first if needed."""
    final = gguf_cache_folder(sha256, cache_dir)
    if (final / MARKER_FILE).is_file():
        return final
    if final.exists():
        # Only a rename of a complete folder creates `final`, so no marker means someone edited it.
        logger.warning("Rebuilding %s: it has no %s", final, MARKER_FILE)
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    try:
        write_converted(Path(gguf_path), sha256, temp)
        try:
            os.rename(temp, final)
        except OSError:
            if not (final / MARKER_FILE).is_file():
                raise
            # Another process finished the same conversion first; its copy is as good as ours.
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return final


def write_converted(gguf_path: Path, sha256: str, folder: Path) -> None:
    """Dequantize `gguf_path` to float32 and save model, config and tokenizer into `folder`."""
    from transformers import AutoTokenizer

    architecture = gguf_architecture(gguf_path)
    logger.info("Converting %s (%s) once; later loads use %s", gguf_path.name, architecture, folder)
    model = _load_gguf_model(gguf_path, architecture)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    _drop_gguf_quantizer(model)
    # The GGUF loader names the model after metadata text; point it at the file instead.
    model.config._name_or_path = str(gguf_path)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    marker = {"gguf_file": gguf_path.name, "sha256": sha256, "architecture": architecture}
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")
    del model
    gc.collect()


def _load_gguf_model(gguf_path: Path, architecture: str):
    """Load a GGUF dequantized to dense float32 weights, which LoRA training and saving need."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, GgufConfig

    where, name = str(gguf_path.parent), gguf_path.name
    try:
        config = AutoConfig.from_pretrained(where, gguf_file=name)
    except (ValueError, NotImplementedError) as error:
        if "not supported" not in str(error):
            raise
        raise LorabenchError(
            f"{gguf_path}: GGUF architecture '{architecture}' is not supported by this transformers "
            "version; upgrade transformers, or convert the model to a transformers folder "
            "(safetensors) and pass that folder instead"
        ) from None
    model_class = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    # dequantize=True: without it, transformers may keep weights packed in GGUF blocks (when the
    # `kernels` package is installed), and packed weights can be neither trained nor saved.
    return model_class.from_pretrained(
        where,
        gguf_file=name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )


def _drop_gguf_quantizer(model) -> None:
    """Forget that the weights came from GGUF, so `save_pretrained` writes plain safetensors.

    With `dequantize=True` transformers already removes the quantizer; older/other paths leave it
    attached, and `save_pretrained` then refuses ("quantized with gguf and is not serializable")
    although the tensors are ordinary dense ones.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
