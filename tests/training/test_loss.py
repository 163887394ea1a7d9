"""The answer-only loss head: the loss of the full logits, from the answer positions' logits only."""

from __future__ import annotations

import warnings

import pytest
import torch
from transformers import Gemma2Config, Gemma2ForCausalLM

from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptSettings
from lorabench.training.examples import PadCollator, encode_examples
from lorabench.training.lora import wrap_with_lora
from lorabench.training.loss import AnswerOnlyHead
from lorabench.training.train import LoraSettings, TrainSettings

PROMPT = PromptSettings(max_prompt_tokens=128)
# Linear layers plus the head, as in tests/training/test_train.py.
WITH_HEAD = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft/transformers chatter (a tied head in the adapter)
        yield


def _load(path):
    return load_model(ModelSpec(name=str(path)))


@pytest.mark.parametrize("model_kind", ["llama", "gemma2-softcapped"])
def test_answer_only_logits_give_the_full_logits_loss(tiny_causal_path, records, model_kind):
    loaded = _load(tiny_causal_path)
    examples = encode_examples(records[:3], loaded.tokenizer, PROMPT, is_seq2seq=False)
    batch = PadCollator(loaded.tokenizer.pad_token_id)([e.features() for e in examples])
    if model_kind == "llama":
        model = wrap_with_lora(loaded, LoraSettings(target_modules=WITH_HEAD), TrainSettings())
    else:
        torch.manual_seed(0)
        config = Gemma2Config(
            vocab_size=len(loaded.tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, head_dim=16, final_logit_softcapping=2.0,
        )
        model = Gemma2ForCausalLM(config)
    model.eval()
    head = AnswerOnlyHead.attach(model)
    with torch.no_grad():
        full = model(**batch).loss
        answer_only, outputs = head.loss(model, batch)
        n_items = (batch["labels"][:, 1:] != -100).sum() * 2
        full_summed = model(**batch, num_items_in_batch=n_items).loss
        answer_only_summed, _ = head.loss(model, batch, num_items_in_batch=n_items)
    head.close()
    assert outputs.logits.shape[:2] == (1, (batch["labels"][:, 1:] != -100).sum())
    assert abs(full.item() - answer_only.item()) < 1e-5
    assert abs(full_summed.item() - answer_only_summed.item()) < 1e-5


class _TimeMajorLM(torch.nn.Module):
    """A toy causal LM that feeds its head (length, batch, hidden): the answer-only hook must step aside."""

    def __init__(self):
        super().__init__()
        self.config = type("Config", (), {"is_encoder_decoder": False})()
        self.embed = torch.nn.Embedding(50, 8)
        self.head = torch.nn.Linear(8, 50)

    def get_output_embeddings(self):
        return self.head

    def forward(self, input_ids, attention_mask=None, use_cache=None):
        logits = self.head(self.embed(input_ids).transpose(0, 1)).transpose(0, 1)
        return type("Output", (), {"logits": logits})()


def test_answer_only_loss_falls_back_to_full_logits_when_the_head_input_is_unusual():
    torch.manual_seed(0)
    model = _TimeMajorLM()
    labels = torch.tensor([[-100, -100, 3, 4, 5], [-100, 7, 8, -100, -100]])
    batch = {"input_ids": torch.randint(0, 50, (2, 5)), "labels": labels}
    loss, _ = AnswerOnlyHead.attach(model).loss(model, batch)
    logits = model(batch["input_ids"]).logits[:, :-1].reshape(-1, 50)
    expected = torch.nn.functional.cross_entropy(logits, batch["labels"][:, 1:].reshape(-1), ignore_index=-100)
    assert abs(loss.item() - expected.item()) < 1e-6
