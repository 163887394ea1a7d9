"""Tiny random-weight models for tests: built offline, deterministically, in well under a second.

Two shapes cover what lorabench loads: a llama-style causal LM (with a ChatML chat template, special
tokens arranged like SmolLM2's) and a T5-style seq2seq model. Both use a byte-level BPE tokenizer
trained here on a few sentences, so any text encodes and nothing is fetched from a hub.
`write_llama_gguf` turns the causal one into a float32 GGUF file, so the GGUF path is tested too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

SEED = 0
VOCAB_SIZE = 384  # 256 byte symbols + special tokens + a hundred-odd merges

CORPUS = [
    "The Eiffel Tower was completed on 31 March 1889, in Paris, France.",
    "Question: When was the tower completed? Answer: 1889.",
    "Context: Water boils at 100 degrees Celsius at sea level.",
    "What is 12 + 30? The answer is 42.",
    "Alice has 3 apples; Bob gives her 4 more, so she has 7 apples.",
    "The quick brown fox jumps over the lazy dog!",
    "Mount Everest is 8,849 metres tall; it is the highest mountain on Earth.",
    "Who wrote Hamlet? William Shakespeare wrote it around 1600.",
    "The capital of Japan is Tokyo, and the capital of Italy is Rome.",
    "Options: (A) red (B) green (C) blue (D) yellow. Answer: (C)",
    "In 1969, Neil Armstrong walked on the Moon.",
    "A triangle has 3 sides, a square has 4, and a hexagon has 6.",
    "Photosynthesis turns light, water and carbon dioxide into sugar.",
    "The Pacific is the largest ocean; the Atlantic is the second largest.",
    "She paid $15.50 for 2 books (each $7.75).",
    "Is the sky blue? Yes, on a clear day it is.",
    "The river Nile flows north through Egypt into the Mediterranean Sea.",
    "Compute 7 * 8 - 6 = 50, then divide by 5 to get 10.",
    "Dogs, cats and horses are mammals; sharks are fish.",
    "The train leaves at 09:45 and arrives at 13:20.",
    "Marie Curie won the Nobel Prize in 1903 and again in 1911.",
    "Read the passage, then answer the question in one short sentence.",
    '"Hello," she said. "How are you today?"',
    "The answer is: 3.14159 - an approximation of pi.",
    "Light travels about 300,000 kilometres per second.",
    "Oxygen's chemical symbol is O; gold's is Au.",
    "The meeting is on Monday, 5 May 2025, at 10 a.m.",
    "If x = 4 and y = 9, then x + y = 13.",
    "Shakespeare, Dickens and Austen were English writers.",
    "The heart pumps blood through the body.",
    "user: What is the capital of France? assistant: Paris.",
    "Please summarise the text in 20 words or fewer.",
]

# ChatML, as SmolLM2-Instruct and Qwen use; the generation prompt opens the assistant turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CAUSAL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SEQ2SEQ_SPECIALS = ["<pad>", "</s>", "<unk>"]


def train_byte_level_bpe(special_tokens: list[str], vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    """A byte-level BPE tokenizer trained on CORPUS; special tokens get the first ids, in order."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        # The full byte alphabet, so text the corpus never showed still encodes without an unk.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    return tokenizer


def build_causal_tokenizer() -> PreTrainedTokenizerFast:
    """Special tokens as in SmolLM2-Instruct: bos <|im_start|>, eos <|im_end|>, unk <|endoftext|>,
    and pad == eos, the case lorabench must repair before batching."""
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_byte_level_bpe(CAUSAL_SPECIALS),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_seq2seq_tokenizer() -> PreTrainedTokenizerFast:
    """T5's arrangement: pad 0, eos 1 appended to every sequence, unk 2."""
    backend = train_byte_level_bpe(SEQ2SEQ_SPECIALS)
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def build_tiny_causal(folder: Path, hidden_size: int = 64, num_layers: int = 2, max_positions: int = 512) -> Path:
    """Save a 2-layer llama-style causal LM (hidden 64, 4 heads, 2 kv heads, tied embeddings) and
    its tokenizer to `folder`. `hidden_size` lets a test build a differently-shaped twin;
    `max_positions` a longer context window (vLLM plans for it when it sizes its cache)."""
    torch.manual_seed(SEED)
    tokenizer = build_causal_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_seq2seq(folder: Path) -> Path:
    """Save a 2-layer T5-style encoder-decoder (d_model 64, 4 heads) and its tokenizer to `folder`."""
    torch.manual_seed(SEED)
    tokenizer = build_seq2seq_tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=64,
        d_kv=16,
        d_ff=128,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    model = T5ForConditionalGeneration(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _llama_cpp_permute(weight: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp stores q/k rows interleaved for its rotary kernel; transformers undoes this on load."""
    return (
        weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def write_llama_gguf(model_folder: Path, gguf_path: Path) -> Path:
    """Write the tiny causal model in `model_folder` as a float32 GGUF, as llama.cpp's converter would."""
    import gguf

    model = LlamaForCausalLM.from_pretrained(model_folder, dtype=torch.float32)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(model_folder)
    config = model.config
    head_dim = config.hidden_size // config.num_attention_heads

    writer = gguf.GGUFWriter(str(gguf_path), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_rope_dimension_count(head_dim)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_vocab_size(config.vocab_size)
    _add_tokenizer(writer, tokenizer)

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and config.tie_word_embeddings:
            continue  # llama.cpp writes no output matrix for tied embeddings
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        data = tensor.numpy().astype(np.float32)
        if hf_name.endswith("q_proj.weight"):
            data = _llama_cpp_permute(data, config.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            data = _llama_cpp_permute(data, config.num_key_value_heads)
        writer.add_tensor(gguf_name, data)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return gguf_path


def _add_tokenizer(writer, tokenizer: PreTrainedTokenizerFast) -> None:
    """The vocabulary, merges and special ids under llama.cpp's `gpt2` (byte-level BPE) keys."""
    import json

    import gguf

    state = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = tokenizer.get_vocab()
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    specials = set(tokenizer.all_special_tokens)
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(
        [gguf.TokenType.CONTROL if t in specials else gguf.TokenType.NORMAL for t in tokens]
    )
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_unk_token_id(tokenizer.unk_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_chat_template(tokenizer.chat_template)


# Tiny configs of other families transformers ships, for the generation engines' architecture
# matrix: 2 layers, hidden 32, grouped-query attention where the family has it. DeepSeek-V3 is the
# multi-head latent attention case: its values are narrower (v_head_dim 6) than its keys (12).
FAMILY_CONFIGS: dict[str, dict] = {
    "llama": {},
    "qwen2": {},
    "qwen3": {"head_dim": 8},
    "phi3": {},
    "mistral": {},  # a sliding window: the continuous engine does not take it
    "gemma3_text": {"head_dim": 8, "sliding_window": 8, "query_pre_attn_scalar": 8},  # sliding layers too
    "deepseek_v3": {
        "num_key_value_heads": 4, "kv_lora_rank": 16, "q_lora_rank": None, "qk_rope_head_dim": 4,
        "qk_nope_head_dim": 8, "v_head_dim": 6, "n_routed_experts": 4, "num_experts_per_tok": 2,
        "first_k_dense_replace": 2, "moe_intermediate_size": 16, "n_group": 1, "topk_group": 1,
    },
}


def build_tiny_family(model_type: str, tokenizer: PreTrainedTokenizerFast, dtype: torch.dtype = torch.float32):
    """An in-memory random-weight causal LM of `model_type` (a key of FAMILY_CONFIGS) for `tokenizer`,
    with large weights so that it writes prompt-dependent text rather than one repeated token."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(SEED)
    shape = {
        "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
        "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
    }
    config = AutoConfig.for_model(model_type, **{**shape, **FAMILY_CONFIGS[model_type]})
    model = AutoModelForCausalLM.from_config(config).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return model.to(dtype)
