"""Shapes, augmentation and the ability to learn: the building blocks of training."""

import numpy as np
import pytest
import torch

from apparel_classifier import training
from apparel_classifier.fashion_mnist import OUTSIDE
from apparel_classifier.networks import FashionCNN, inference_views, predict_logits, view_count
from apparel_classifier.params import AugmentParams, load_params


@pytest.mark.parametrize(("width", "final_convs"), [(4, 0), (32, 0), (4, 2)])
def test_network_maps_a_batch_of_images_to_one_logit_per_class(
    width: int, final_convs: int
) -> None:
    logits = FashionCNN(10, width, final_convs)(torch.zeros(5, 1, 28, 28))
    assert logits.shape == (5, 10)


def test_final_convs_only_add_weights_so_older_cards_still_load() -> None:
    # A card written before `final_convs` existed has no such kwarg: the default (0)
    # must rebuild exactly the network those weights came from.
    older = FashionCNN(10, 4).state_dict()
    deeper = FashionCNN(10, 4, final_convs=1).state_dict()
    assert {k: v.shape for k, v in older.items()} == {
        k: v.shape for k, v in deeper.items() if k in older
    }
    assert len(deeper) > len(older)


def test_augment_keeps_shape_and_is_reproducible_from_its_generator() -> None:
    x = torch.randn(16, 1, 28, 28)
    aug = AugmentParams(hflip=True, translate_px=2, contrast=0.3)
    a = training.augment(x, aug, -1.0, training.epoch_generator(0, 1, x.device))
    b = training.augment(x, aug, -1.0, training.epoch_generator(0, 1, x.device))
    c = training.augment(x, aug, -1.0, training.epoch_generator(0, 2, x.device))
    assert a.shape == x.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_translation_shifts_content_and_fills_with_background() -> None:
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0  # a bright square in the middle
    out = training.augment(
        x,
        AugmentParams(hflip=False, translate_px=3, contrast=0.0),
        -5.0,
        torch.Generator().manual_seed(0),
    )
    # Every sample keeps its 64 bright pixels (the square cannot leave the frame) ...
    assert torch.equal((out == 1.0).sum(dim=(1, 2, 3)), torch.full((64,), 64))
    # ... and at least some samples were moved, exposing background at the edges.
    assert (out == -5.0).any()
    assert not torch.equal(out, x)


def test_hflip_only_mirrors_images() -> None:
    x = torch.arange(28.0).expand(32, 1, 28, 28)
    out = training.augment(
        x,
        AugmentParams(hflip=True, translate_px=0, contrast=0.0),
        0.0,
        torch.Generator().manual_seed(0),
    )
    flipped = (out == x.flip(3)).all(dim=(1, 2, 3))
    kept = (out == x).all(dim=(1, 2, 3))
    assert bool((flipped | kept).all())
    assert 0 < int(flipped.sum()) < 32


def test_network_overfits_one_batch() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(32, 1, 28, 28), torch.arange(32) % 10
    model = FashionCNN(num_classes=10, width=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss, _ = training.train_step(model, optimizer, x, y, label_smoothing=0.0)
    assert loss.item() < 0.02


def test_loss_is_label_smoothed_cross_entropy_and_outside_rows_aim_at_uniform() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 10, requires_grad=True)
    y = torch.tensor([0, 3, 9, 1, 2, 5])
    expected = torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.1)
    assert torch.allclose(training.training_loss(logits, y, 0.1), expected, atol=1e-6)
    # An OUTSIDE row: minimal when the answer is uniform, and its gradient pushes there.
    outside = torch.tensor([OUTSIDE])
    uniform, peaked = torch.zeros(1, 10), torch.zeros(1, 10)
    peaked[0, 4] = 5.0
    assert training.training_loss(uniform, outside, 0.1) < training.training_loss(
        peaked, outside, 0.1
    )
    assert training.training_loss(uniform, outside, 0.1).item() == pytest.approx(np.log(10))
    peaked.requires_grad_(True)
    training.training_loss(peaked, outside, 0.1).backward()
    assert peaked.grad is not None
    assert peaked.grad[0, 4] > 0  # gradient descent lowers the peaked logit


def test_contrast_scales_each_image_about_the_background() -> None:
    x = torch.full((32, 1, 28, 28), -1.0)
    x[:, :, 8:20, 8:20] = 2.0
    out = training.augment(
        x, AugmentParams(hflip=False, translate_px=0, contrast=0.5), -1.0,
        torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert torch.equal(out[:, :, 0, 0], x[:, :, 0, 0])  # the background stays
    item = out[:, 0, 10, 10]
    assert ((item >= -1.0 + 3.0 * 0.5) & (item <= -1.0 + 3.0 * 1.5)).all()
    assert item.unique().numel() > 1  # each image its own factor


@pytest.mark.parametrize(("steps", "warmup"), [(4, 0.25), (10, 0.1), (8, 0.25)])
def test_one_cycle_schedule_runs_every_step_even_with_a_one_step_warmup(
    steps: int, warmup: float
) -> None:
    # OneCycleLR alone divides by zero when warmup × steps is exactly 1 (4 steps at 0.25).
    params = load_params().training.model_copy(update={"warmup_fraction": warmup})
    optimizer, scheduler = training.build_optimizer(torch.nn.Linear(2, 2), params, steps)
    lrs = []
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    assert max(lrs) <= params.lr
    assert lrs[-1] < lrs[0]  # annealed by the end


def test_flip_average_is_the_mean_of_both_views_and_keeps_mirror_images_alone() -> None:
    torch.manual_seed(0)
    model = FashionCNN(width=4).train()
    x = torch.randn(6, 1, 28, 28)
    plain, mirrored = predict_logits(model, x, 4), predict_logits(model, x.flip(3), 4)
    torch.testing.assert_close(predict_logits(model, x, 4, flip=True), (plain + mirrored) / 2)
    symmetric = (x + x.flip(3)) / 2  # its own mirror image: the average changes nothing
    torch.testing.assert_close(
        predict_logits(model, symmetric, 4, flip=True), predict_logits(model, symmetric, 4)
    )
    assert model.training  # the mode is restored


def test_shifted_views_move_the_image_and_fill_the_edge_with_its_background() -> None:
    x = torch.full((2, 1, 28, 28), -0.8)  # the normalised black background
    x[0, 0, 10:14, 5:9] = 1.0
    x[1, 0, 0, :] = 2.0  # an item touching the top edge
    views = inference_views(x, flip=True, shift_px=1)
    assert len(views) == 10  # the image and its mirror image, each unmoved and moved 4 ways
    right, left, down, up = views[2:6]  # the unmirrored image's moves
    torch.testing.assert_close(right[0, 0, 10:14, 6:10], x[0, 0, 10:14, 5:9])
    torch.testing.assert_close(left[0, 0, 10:14, 4:8], x[0, 0, 10:14, 5:9])
    assert down[1, 0, 0].eq(-0.8).all()  # black moves in
    assert down[1, 0, 1].eq(2.0).all()
    assert up[1, 0].eq(-0.8).all()  # the top row moved out of the frame
    for flip, shift_px in ((False, 0), (True, 0), (False, 2), (True, 1)):
        assert len(inference_views(x, flip, shift_px)) == view_count(flip, shift_px)


def test_the_view_average_is_the_mean_of_each_views_logits_in_any_batch_size() -> None:
    torch.manual_seed(0)
    model = FashionCNN(width=4).eval()
    x = torch.randn(5, 1, 28, 28)
    each = torch.stack([predict_logits(model, v, 5) for v in inference_views(x, True, 1)])
    for batch_size in (1, 2, 5):
        torch.testing.assert_close(predict_logits(model, x, batch_size, True, 1), each.mean(0))


def test_a_bf16_step_runs_the_network_in_bf16_and_keeps_fp32_weights_and_loss() -> None:
    torch.manual_seed(0)
    model = FashionCNN(num_classes=10, width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    before = [p.detach().clone() for p in model.parameters()]
    loss, logits = training.train_step(model, optimizer, x, y, 0.1, bf16=True)
    assert logits.dtype == torch.bfloat16  # the forward pass ran under autocast
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss)
    after = list(model.parameters())
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))  # it stepped


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_auto_precision_is_bf16_exactly_where_the_hardware_has_it(
    device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = torch.device(device)
    for native in (True, False):
        monkeypatch.setattr(training, "native_bf16", lambda d, native=native: native)
        assert training.resolve_precision("auto", dev) == ("bf16" if native else "fp32")
        assert training.resolve_precision("fp32", dev) == "fp32"
        assert training.resolve_precision("bf16", dev) == "bf16"
