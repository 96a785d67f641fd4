"""Network architectures (plain nn.Modules built from explicit arguments) and how to run them."""

import torch
from torch import Tensor, nn


def _conv_block(c_in: int, c_out: int, pool: bool = True) -> nn.Sequential:
    # BatchNorm makes a short, high-learning-rate schedule stable; bias is redundant before it.
    # Pooling comes first, as in airbench's CIFAR-10 speed runs: max-pooling commutes with
    # the ReLU and with an increasing per-channel affine map, so the function class barely
    # changes, while BatchNorm and ReLU (forward and backward) see a quarter of the values.
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        *([nn.MaxPool2d(2)] if pool else []),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FashionCNN(nn.Module):
    """Three conv blocks (width, 2×width, 4×width channels), `final_convs` more convolutions
    at the last 3×3 resolution, and a linear classifier.

    Sized for a 2-core CPU: about 8 M multiply-adds per 28×28 image at width 32, and
    1.3 M more per final convolution. Depth is cheapest there: a 3×3 map has 9 positions
    against the 49 of the 7×7 map before it.
    """

    def __init__(self, num_classes: int = 10, width: int = 32, final_convs: int = 0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(1, width),  # (B, 1, 28, 28) -> (B, w, 14, 14)
            _conv_block(width, 2 * width),  # -> (B, 2w, 7, 7)
            _conv_block(2 * width, 4 * width),  # -> (B, 4w, 3, 3)
            *(_conv_block(4 * width, 4 * width, pool=False) for _ in range(final_convs)),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, 4w, 3, 3) -> (B, 36w)
            nn.Linear(4 * width * 3 * 3, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, num_classes) for normalised images (B, 1, 28, 28)."""
        return self.classifier(self.features(x))


def _shifted(x: Tensor, dy: int, dx: int) -> Tensor:
    """`x` (B, 1, H, W) moved by (dy, dx) pixels; the edge moved in is each image's darkest value.

    Training's shifts fill with black, the background of every image in Fashion-MNIST's
    format; an image's minimum is that black without needing the normalisation constants.
    """
    height, width = x.shape[-2:]
    out = x.amin(dim=(1, 2, 3), keepdim=True).expand_as(x).clone()
    out[..., max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = x[
        ..., max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return out


def inference_views(x: Tensor, flip: bool = False, shift_px: int = 0) -> list[Tensor]:
    """The views of `x` an answer averages: the image, its mirror image (`flip`), and each of
    those moved by `shift_px` pixels up, down, left and right (so 1, 2, 5 or 10 views).

    The same flips and shifts as training's augmentation, so every view is in-distribution.
    """
    views = [x, x.flip(3)] if flip else [x]
    if shift_px:
        moves = ((0, shift_px), (0, -shift_px), (shift_px, 0), (-shift_px, 0))
        views += [_shifted(v, dy, dx) for v in list(views) for dy, dx in moves]
    return views


def view_count(flip: bool = False, shift_px: int = 0) -> int:
    """How many views `inference_views` makes for these settings: 1, 2, 5 or 10."""
    return (2 if flip else 1) * (5 if shift_px else 1)


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: Tensor, batch_size: int, flip: bool = False, shift_px: int = 0
) -> Tensor:
    """Logits (N, classes) for N >= 1 normalised images `x` (N, 1, 28, 28), in eval mode.

    The project's one inference loop: validation during training, the `evaluate`
    stage and the predictor all call it. The model's train/eval mode is restored.
    With `flip` or `shift_px`, each image's logits are the mean over its
    `inference_views` (test-time augmentation). At most `batch_size` rows go through
    the network at a time, an image's views in the same batch.
    """
    count = view_count(flip, shift_px)

    def logits(batch: Tensor) -> Tensor:
        if count == 1:
            return model(batch)
        views = model(torch.cat(inference_views(batch, flip, shift_px)))
        return views.view(count, len(batch), -1).mean(dim=0)

    # Switch modes only when training: `eval()` and `train()` each walk every module, about
    # 0.17 ms per call, and the predictor's model is always in eval mode already.
    was_training = model.training
    if was_training:
        model.eval()
    # Rows, not images: ten views of 256 images in one batch took 28 times as long as
    # 260 rows on a 2-core Xeon (the activations outgrow the caches).
    step = max(1, batch_size // count)
    try:
        return torch.cat([logits(x[i : i + step]) for i in range(0, len(x), step)])
    finally:
        if was_training:
            model.train()
