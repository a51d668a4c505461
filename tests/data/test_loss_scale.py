import multiprocessing

import torch
from transformers import GPT2Config

from framework.data.loss_scale import global_num_items, loss_divisor
from framework.data.objectives import CausalLMCollator
from framework.data.objectives.common import count_targets
from framework.models.gpt2 import GPT2ForCausalLM
from tests.data.test_objectives import random_samples


def tiny_gpt2():
    torch.manual_seed(0)
    return GPT2ForCausalLM.from_config(GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=16, vocab_size=40,
                                                   resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))


def grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def micro_batches(world, accumulation):
    """Micro-batches [rank][step] with very different target counts (some labels ignored)."""
    collator = CausalLMCollator(12, document_mask=False)
    out, seed = [], 0
    for _ in range(world):
        row = []
        for k in range(accumulation):
            seed += 1
            batch = collator(random_samples(2, 12, 40, seed=seed))
            batch["labels"][:, : 1 + 5 * k] = -100  # step k has fewer targets
            batch["num_items"] = collator.num_items(batch["labels"])
            row.append(batch)
        out.append(row)
    return out


def test_loss_is_normalised_by_global_target_tokens():
    world, accumulation = 2, 3
    batches = micro_batches(world, accumulation)
    # The engine's view: each rank scales by 1/accumulation, gradients are averaged over ranks.
    model = tiny_gpt2()
    total = global_num_items([b for rank in batches for b in rank])  # what the all-reduce returns
    divisor = loss_divisor(total, world, accumulation)
    for rank in batches:
        for b in rank:
            (model(**{**b, "num_items": divisor}).loss / accumulation / world).backward()
    engine = grads(model)
    # Reference: one big batch, mean over all its target tokens.
    ref = tiny_gpt2()
    ids = torch.cat([b["input_ids"] for rank in batches for b in rank])
    labels = torch.cat([b["labels"] for rank in batches for b in rank])
    assert int(count_targets(labels[:, 1:])) == total
    ref(ids, labels=labels).loss.backward()
    assert torch.allclose(engine, grads(ref), atol=1e-6)
    # Averaging per-micro-batch means instead is measurably different.
    naive = tiny_gpt2()
    for rank in batches:
        for b in rank:
            (naive(b["input_ids"], labels=b["labels"]).loss / accumulation / world).backward()
    assert not torch.allclose(grads(naive), grads(ref), atol=1e-4)


def _rank(rank, world, path, queue):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=world)
    queue.put((rank, global_num_items([{"num_items": torch.tensor(10 * (rank + 1))}, {"num_items": rank}])))
    dist.destroy_process_group()


def test_global_num_items_sums_over_ranks(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_rank, args=(r, 2, tmp_path / "store", queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert results == {0: 31, 1: 31}  # (10 + 0) + (20 + 1)
    assert global_num_items([{"num_items": 4}, {"num_items": torch.tensor(5)}]) == 9  # not distributed: local sum
