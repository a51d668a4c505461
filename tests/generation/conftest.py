import pytest
import torch

from tests.generation.tiny_models import make_pair

DECODER_ONLY = ["gpt2", "llama"]
ENCODER_DECODER = ["t5", "marian"]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """One tiny model per family, built once per test module: family -> Pair (ours, stock)."""
    cache = {}

    def get(family: str):
        if family not in cache:
            cache[family] = make_pair(family, tmp_path_factory.mktemp(family))
        return cache[family]

    return get


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models decode fastest on one thread (and the CI machine's cores are shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
