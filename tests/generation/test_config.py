"""GenerationConfig: validation messages and defaults taken from the model config."""

import pytest
import torch
from transformers import GPT2Config, MarianConfig, T5Config

from framework.errors import FrameworkError
from framework.generation import GenerationConfig, GenerationConfigError, generate


@pytest.mark.parametrize("settings,message", [
    (dict(do_sample=True, temperature=0.0), "temperature must be > 0"),
    (dict(do_sample=True, temperature=-1.0), "temperature must be > 0"),
    (dict(top_p=0.0), "top_p must be in (0, 1]"),
    (dict(top_p=1.5), "top_p must be in (0, 1]"),
    (dict(top_k=-1), "top_k must be >= 0"),
    (dict(num_beams=0), "num_beams must be >= 1"),
    (dict(num_beams=2.0), "num_beams must be an integer"),
    (dict(max_new_tokens=0), "max_new_tokens must be >= 1"),
    (dict(min_new_tokens=-1), "min_new_tokens must be >= 0"),
    (dict(early_stopping="sometimes"), "early_stopping must be True, False or 'never'"),
    (dict(early_stopping=1), "early_stopping must be True, False or 'never'"),
    (dict(no_repeat_ngram_size=-2), "no_repeat_ngram_size must be >= 0"),
    (dict(length_penalty=float("nan")), "length_penalty must be a finite number"),
    (dict(do_sample=True, num_beams=3), "beam sampling"),
    (dict(eos_token_id=[2, -1]), "eos_token_id must be >= 0"),
    (dict(eos_token_id="2"), "eos_token_id must be an int or a list of ints"),
])
def test_invalid_settings_are_rejected_with_a_clear_message(settings, message):
    with pytest.raises(GenerationConfigError) as err:
        GenerationConfig(**settings)
    assert message in str(err.value)
    assert isinstance(err.value, FrameworkError)


def test_valid_settings_pass():
    GenerationConfig(do_sample=False, temperature=0.0)  # temperature only matters when sampling
    GenerationConfig(do_sample=True, temperature=0.5, top_k=0, top_p=1.0, early_stopping="never", num_beams=1)
    GenerationConfig(num_beams=4, early_stopping=True, length_penalty=-1.0, eos_token_id=[1, 2])


def test_replace_validates_and_rejects_unknown_names():
    base = GenerationConfig()
    assert base.replace(num_beams=3).num_beams == 3 and base.num_beams == 1
    with pytest.raises(GenerationConfigError, match="num_beams must be >= 1"):
        base.replace(num_beams=0)
    with pytest.raises(GenerationConfigError, match="unknown generation setting.*max_length"):
        base.replace(max_length=10)


def test_special_tokens_come_from_the_model_config():
    resolved = GenerationConfig().resolve(GPT2Config(eos_token_id=2, pad_token_id=0, bos_token_id=1), False)
    assert (resolved.eos_ids, resolved.pad_token_id, resolved.decoder_start_token_id) == ([2], 0, None)
    no_pad = GenerationConfig().resolve(GPT2Config(eos_token_id=[5, 6], pad_token_id=None), False)
    assert no_pad.eos_ids == [5, 6] and no_pad.pad_token_id == 5  # HF: pad falls back to the first EOS
    mine = GenerationConfig(eos_token_id=7, pad_token_id=3).resolve(GPT2Config(eos_token_id=2, pad_token_id=0), False)
    assert (mine.eos_ids, mine.pad_token_id) == ([7], 3)
    assert GenerationConfig(eos_token_id=[]).resolve(GPT2Config(eos_token_id=2), False).eos_ids == []


def test_encoder_decoder_start_token():
    marian = GenerationConfig().resolve(MarianConfig(decoder_start_token_id=9, pad_token_id=9, eos_token_id=0), True)
    assert marian.decoder_start_token_id == 9 and marian.forced_eos_ids == [0]
    t5_from_bos = GenerationConfig().resolve(T5Config(bos_token_id=4), True)
    assert t5_from_bos.decoder_start_token_id == 4
    with pytest.raises(GenerationConfigError, match="decoder_start_token_id"):
        GenerationConfig().resolve(T5Config(), True)


def test_generate_rejects_bad_inputs(pairs):
    model = pairs("gpt2").ours
    with pytest.raises(GenerationConfigError, match="input_ids must be"):
        generate(model, torch.tensor([3, 4, 5]))
    with pytest.raises(GenerationConfigError, match="attention_mask has shape"):
        generate(model, torch.tensor([[3, 4, 5]]), torch.ones(1, 4, dtype=torch.long))
    with pytest.raises(GenerationConfigError, match="unknown generation setting"):
        generate(model, torch.tensor([[3, 4, 5]]), num_beam=2)
