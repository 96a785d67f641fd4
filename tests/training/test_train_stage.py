"""The `train` stage on tiny data: determinism, exact resume, the model card."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from apparel_classifier import networks, provenance, training
from apparel_classifier.calibration import fit_temperature, right_classes
from apparel_classifier.errors import UserError
from apparel_classifier.model_card import CARD_FILE, WEIGHTS_FILE, load_model
from apparel_classifier.params import TRAINING_KEYS
from apparel_classifier.resume import STATE_FILE
from apparel_classifier.splits import FIELD_CAL
from apparel_classifier.stages import preprocess, train
from apparel_classifier.training import EpochRecord
from tests.tiny_pipeline import TinyProject, make_tiny_project


class SimulatedKillError(Exception):
    """Stands in for a kill after an epoch."""


@pytest.fixture
def project(tmp_path: Path) -> TinyProject:
    return make_tiny_project(tmp_path, epochs=3)


# bf16 rounds otherwise, but must be as reproducible: it runs here whatever the CPU (where
# it is emulated, only slower).
@pytest.fixture(params=["fp32", "bf16"])
def either_precision(request: pytest.FixtureRequest, tmp_path: Path) -> TinyProject:
    return make_tiny_project(tmp_path, epochs=3, precision=request.param)


def weights_bytes(model_dir: Path) -> bytes:
    return (model_dir / WEIGHTS_FILE).read_bytes()


def test_two_runs_write_byte_identical_weights_and_cards(either_precision: TinyProject) -> None:
    project = either_precision
    train.run(project.processed, project.models("a"), None, project.params, project.params.dataset)
    train.run(project.processed, project.models("b"), None, project.params, project.params.dataset)
    assert weights_bytes(project.models("a")) == weights_bytes(project.models("b"))
    card_a, card_b = (project.models(n) / CARD_FILE for n in ("a", "b"))
    assert card_a.read_bytes() == card_b.read_bytes()


def test_interrupted_run_resumes_and_ends_with_identical_weights(
    either_precision: TinyProject,
) -> None:
    project = either_precision
    train.run(
        project.processed, project.models("straight"), None, project.params, project.params.dataset
    )

    resume_dir = project.root / ".resume"
    seen: list[int] = []

    def die_after_first_epoch(record: EpochRecord) -> None:
        seen.append(record.epoch)
        if record.epoch == 1:
            raise SimulatedKillError

    with pytest.raises(SimulatedKillError):
        train.run(
            project.processed,
            project.models("resumed"),
            resume_dir,
            project.params,
            project.params.dataset,
            die_after_first_epoch,
        )
    assert (resume_dir / STATE_FILE).is_file()
    assert not (project.models("resumed") / WEIGHTS_FILE).exists()

    seen.clear()
    card, _ = train.run(
        project.processed,
        project.models("resumed"),
        resume_dir,
        project.params,
        project.params.dataset,
        lambda r: seen.append(r.epoch),
    )
    # The restored epoch is replayed to the logger, then training continues from epoch 2.
    assert seen == [1, 2, 3]
    assert card.training.epochs_run == 3
    assert weights_bytes(project.models("resumed")) == weights_bytes(project.models("straight"))
    assert not (resume_dir / STATE_FILE).exists(), "a finished run must not leave resume state"


def test_resume_state_of_other_params_is_discarded(project: TinyProject, tmp_path: Path) -> None:
    resume_dir = tmp_path / ".resume"

    def interrupt(record: EpochRecord) -> None:
        raise SimulatedKillError

    with pytest.raises(SimulatedKillError):
        train.run(
            project.processed,
            project.models("x"),
            resume_dir,
            project.params,
            project.params.dataset,
            interrupt,
        )
    other = project.params.model_copy(update={"lr": project.params.lr / 2})
    seen: list[int] = []
    train.run(
        project.processed,
        project.models("x"),
        resume_dir,
        other,
        project.params.dataset,
        lambda r: seen.append(r.epoch),
    )
    assert seen == [1, 2, 3], "a run with a different lr must start from scratch"


def test_card_ties_the_model_to_its_dataset_and_params(project: TinyProject) -> None:
    card, _ = train.run(
        project.processed, project.models(), None, project.params, project.params.dataset
    )
    _, loaded = load_model(project.models())
    assert loaded == card
    # Every processed file but the field validation photos, which the model never sees.
    assert sorted(card.dataset.processed) == sorted(
        f"data/processed/{p.name}"
        for p in project.processed.iterdir()
        if not p.name.startswith("field_val")
    )
    assert len(card.dataset.processed) == 9
    assert card.calibration.fitted_on == "validation split (20 images)"  # no photo held out
    assert card.dataset.raw == {f"data/raw/{k}": v for k, v in project.params.dataset.md5.items()}
    assert card.params["lr"] == project.params.lr
    assert card.params["augment"] == project.params.augment.model_dump()
    assert 1 <= card.training.best_epoch <= card.training.epochs_run == 3
    assert set(card.versions) >= {"python", "torch", "dvc"}
    info = json.loads((project.processed / "dataset.json").read_text())
    assert card.normalization == {"mean": info["mean"], "std": info["std"]}
    assert card.classes == info["class_names"]
    # Calibrated on the validation split; the threshold is the param, carried by the model.
    assert card.calibration.temperature > 0.0
    assert card.calibration.threshold == project.params.confidence_threshold
    assert card.model.views == project.params.views
    assert card.model.kwargs == {
        "num_classes": len(card.classes),
        "width": project.params.width,
        "final_convs": project.params.final_convs,
    }


def test_test_time_views_keep_the_weights_and_are_written_into_the_card(
    project: TinyProject,
) -> None:
    plain_params = project.params.model_copy(
        update={"test_time_flip": False, "test_time_shift_px": 0}
    )
    plain, _ = train.run(
        project.processed, project.models("plain"), None, plain_params, project.params.dataset
    )
    with_views = plain_params.model_copy(update={"test_time_flip": True, "test_time_shift_px": 1})
    viewed, _ = train.run(
        project.processed, project.models("views"), None, with_views, project.params.dataset
    )
    # The kept epoch is chosen on the plain network: the views change answers, not weights.
    assert viewed.model.weights_md5 == plain.model.weights_md5
    assert viewed.model.views == with_views.views == (True, 1)
    # Calibrated on the answers as served, so the temperature is the averaged answers' own.
    assert viewed.calibration.temperature != plain.calibration.temperature


def _hold_out_half(project: TinyProject) -> dict:
    """Preprocess the tiny project again with half its field train photos held out."""
    p = project.params
    field = p.field.model_copy(update={"calibration_share": 0.5})
    raw, photos = project.root / "data" / "raw", project.root / "data" / "field"
    return preprocess.run(raw, project.processed, p.dataset, p.preprocess, field, field_dir=photos)


def test_the_temperature_is_fitted_on_the_held_out_field_photos(tmp_path: Path) -> None:
    project = make_tiny_project(tmp_path)
    held = _hold_out_half(project)["field"]["counts"]["calibration"]
    p = project.params
    card, _ = train.run(project.processed, project.models(), None, p, p.dataset)

    # Folders in the catalogue, and outside it (hats, shorts, skirts).
    inside = sum(n for f, n in held.items() if p.field.categories[f])
    outside = sum(held.values()) - inside
    assert inside  # the tiny draw has both
    assert outside
    assert card.calibration.fitted_on == (
        f"held-out field photos ({inside} in the catalogue, {outside} out)"
    )
    # The fit on those photos' answers as served, their folders' classes counting as right.
    data = training.load_data(project.processed, torch.device("cpu"), (FIELD_CAL,))
    model, loaded = load_model(project.models())
    held_x, held_folder = data.tensors[FIELD_CAL]
    logits = networks.predict_logits(model, held_x, 256, *loaded.model.views)
    right = right_classes(data.info["field"]["classes"], held_folder.numpy(), loaded.classes)
    # (approx: the loaded network may lay its weights out otherwise than training did)
    refit = fit_temperature(logits, torch.from_numpy(right))
    assert refit == pytest.approx(card.calibration.temperature, abs=1e-3)


def test_without_an_in_catalogue_photo_held_out_the_validation_split_is_used(
    tmp_path: Path,
) -> None:
    # Folders too small to give one: only hats, shorts and skirts among the held-out photos,
    # whose fit alone would send T to its bound and every answer to "not sure".
    project = make_tiny_project(tmp_path)
    info = _hold_out_half(project)["field"]
    outside = [k for k, classes in enumerate(info["classes"]) if not classes]
    files = {s: project.processed / f"{FIELD_CAL}_{s}.npy" for s in ("images", "labels")}
    labels = np.load(files["labels"])
    keep = np.isin(labels, outside)
    np.save(files["images"], np.load(files["images"])[keep])
    np.save(files["labels"], labels[keep])
    p = project.params
    card, _ = train.run(project.processed, project.models(), None, p, p.dataset)

    assert card.calibration.fitted_on == "validation split (20 images)"


def test_card_holds_only_what_the_inputs_decide(project: TinyProject) -> None:
    card, result = train.run(
        project.processed, project.models(), None, project.params, project.params.dataset
    )
    # No wall time, host or commit: those would change the hash of models/ on every run.
    assert set(card.model_dump()) == {
        "schema_version", "model", "dataset", "params", "code", "versions",
        "classes", "normalization", "calibration", "training",
    }  # fmt: skip
    assert "seconds" not in (project.models() / CARD_FILE).read_text()
    assert result.train_seconds > 0  # measured, and left to the run log
    assert list(card.params) == list(TRAINING_KEYS)
    # The digest covers exactly the Python deps that dvc.yaml gives the train stage.
    assert card.code.files == provenance.stage_code_files("train")
    assert "src/apparel_classifier/training.py" in card.code.files
    assert card.code.digest == provenance.code_digest(card.code.files)
    assert card.model.architecture == "FashionCNN"


def test_the_card_says_which_precision_trained_the_weights(tmp_path: Path) -> None:
    fp32 = make_tiny_project(tmp_path / "fp32", epochs=1, precision="fp32")
    bf16 = make_tiny_project(tmp_path / "bf16", epochs=1, precision="bf16")
    cards = {
        p.params.precision: train.run(p.processed, p.models(), None, p.params, p.params.dataset)[0]
        for p in (fp32, bf16)
    }
    assert {name: card.training.precision for name, card in cards.items()} == {
        "fp32": "fp32",
        "bf16": "bf16",
    }
    # The same data and seed, other rounding: other weights.
    assert cards["fp32"].model.weights_md5 != cards["bf16"].model.weights_md5


def test_bf16_without_hardware_support_is_refused_on_a_gpu_and_warned_about_on_a_cpu(
    project: TinyProject, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    params = project.params.training.model_copy(update={"precision": "bf16"})
    monkeypatch.setattr(training, "native_bf16", lambda device: False)
    train.check_device(params)  # this CPU: a warning, not an error
    assert "bf16 is emulated" in caplog.text
    monkeypatch.setattr(training, "resolve_device", lambda name: torch.device("cuda"))
    with pytest.raises(UserError, match="no bf16 arithmetic"):
        train.check_device(params)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("train_images.npy", "cannot read the train split"),  # emptied
        ("dataset.json", "cannot be read"),  # emptied
        ("dataset.json:{}", "lacks class_names, mean, std, field"),
    ],
)
def test_damaged_processed_data_is_one_clear_error(
    project: TinyProject, damage: str, message: str
) -> None:
    name, _, text = damage.partition(":")
    (project.processed / name).write_text(text)
    with pytest.raises(UserError, match=message):
        train.run(project.processed, project.models(), None, project.params, project.params.dataset)
    assert not project.models().exists()
