"""The bench's what-if: the real training step under bf16 autocast (`make bench`, `--bf16`)."""

import pytest
import torch

from apparel_classifier import training
from apparel_classifier.params import load_params
from tools.bench_pipeline import throughput, training_step

SMALL = {"batch_size": 8, "width": 8, "device": "cpu"}


def test_the_bf16_step_runs_the_network_in_bf16_and_keeps_fp32_weights() -> None:
    params = load_params().training.model_copy(update=SMALL)
    model = training.build_network(params)
    optimizer, _ = training.build_optimizer(model, params, total_steps=10)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    loss, logits = training_step(torch.device("cpu"), bf16=True)(model, optimizer, x, y, 0.1)
    assert logits.dtype == torch.bfloat16  # the forward pass ran under autocast
    assert torch.isfinite(loss)
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("bf16", [False, True])
def test_throughput_counts_the_same_arithmetic_in_either_precision(bf16: bool) -> None:
    params = load_params().training.model_copy(update=SMALL)
    rates, flops = throughput(params, batches=1, repeats=2, bf16=bf16)
    assert len(rates) == 2
    assert all(r > 0 for r in rates)
    _, fp32_flops = throughput(params, batches=1, repeats=1)
    assert flops == fp32_flops  # autocast changes the number format, not the work
