"""The bench's throughput step, in either precision (`make bench`, `--precision`)."""

import pytest

from apparel_classifier.params import load_params
from tools.bench_pipeline import throughput

SMALL = {"batch_size": 8, "width": 8, "device": "cpu"}


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_throughput_counts_the_same_arithmetic_in_either_precision(precision: str) -> None:
    params = load_params().training.model_copy(update=SMALL | {"precision": precision})
    rates, flops = throughput(params, batches=1, repeats=2)
    assert len(rates) == 2
    assert all(r > 0 for r in rates)
    fp32 = params.model_copy(update={"precision": "fp32"})
    _, fp32_flops = throughput(fp32, batches=1, repeats=1)
    assert flops == fp32_flops  # autocast changes the number format, not the work
