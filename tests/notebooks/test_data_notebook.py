"""notebooks/01-data.ipynb runs, top to bottom, on a tiny project; every notebook is stripped.

The notebook reads what `dvc repro preprocess` wrote in a throwaway copy of the
project (tests/pipeline/repo.py), in a kernel of this interpreter, so a change to
the library, the processed files or params.yaml that breaks it fails here, not in
front of the next reader.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from apparel_classifier.fashion_mnist import CLASS_NAMES
from apparel_classifier.splits import SPLITS
from tests.fakes import REPO_ROOT
from tests.pipeline.repo import Repo, make_repo

pytestmark = pytest.mark.timeout(300)

NOTEBOOKS = REPO_ROOT / "notebooks"
NOTEBOOK = NOTEBOOKS / "01-data.ipynb"
N_TRAIN, N_TEST = 200, 100  # the tiny dataset
# tests.images.write_fake_field: photos per folder in each field split.
FIELD_PHOTOS = {"train": 3, "validation": 2}
KERNEL = "apparel-classifier-tests"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A tiny copy of the project holding data/processed/ and data/field/, as after `make run`."""
    repo = make_repo(tmp_path_factory.mktemp("notebook"), n_train=N_TRAIN, n_test=N_TEST)
    repo.dvc("repro", "preprocess")
    return repo


@pytest.fixture(scope="module")
def executed(project: Repo, tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    """The notebook, copied into the tiny project's notebooks/ and run there, with its outputs."""
    target = project.root / "notebooks" / NOTEBOOK.name
    target.parent.mkdir()
    shutil.copy2(NOTEBOOK, target)
    notebook = nbformat.read(target, as_version=4)
    # A kernel spec of this very interpreter (the venv's), under a name no other spec has,
    # so that a `python3` kernel installed elsewhere on the machine cannot stand in.
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / KERNEL / "kernel.json"
    spec.parent.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    client = NotebookClient(
        notebook,
        timeout=120,  # per cell
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(target.parent)}},  # the kernel's cwd, as in Jupyter
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(jupyter))
        patch.setenv("JUPYTER_RUNTIME_DIR", str(jupyter / "runtime"))
        # The project's environment: its own src/ first, no DVC_ or GIT_ variables.
        client.execute(env=project.env)  # raises CellExecutionError on the first failing cell
    return notebook


def tagged(notebook: nbformat.NotebookNode, tag: str) -> list[nbformat.NotebookNode]:
    return [c for c in notebook.cells if tag in c.metadata.get("tags", [])]


def output_text(cell: nbformat.NotebookNode, kind: str) -> str:
    """The cell's printed text (`kind` "stream") or its result's plain-text form ("result")."""
    if kind == "stream":
        return "".join(o.text for o in cell.outputs if o.output_type == "stream")
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, f"cell {cell.id} should end in one displayed value"
    text: str = results[0].data["text/plain"]
    return text


def test_the_notebook_runs_cleanly_and_draws_every_figure(executed: nbformat.NotebookNode) -> None:
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code, "the notebook has no code"
    for cell in code:
        assert cell.execution_count is not None, cell.id
        for output in cell.outputs:
            assert output.output_type != "error", cell.id
            # A warning in a notebook is the first sign of its rot: keep its output clean.
            assert output.get("name") != "stderr", f"cell {cell.id} wrote: {output.text}"
    figures = tagged(executed, "figure")
    assert len(figures) >= 5
    for cell in figures:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.id


def test_its_class_counts_are_those_of_the_processed_data(
    executed: nbformat.NotebookNode, project: Repo
) -> None:
    (cell,) = tagged(executed, "class-balance")
    header, *lines = output_text(cell, "result").splitlines()
    assert header.split() == list(SPLITS)
    shown = {}
    for line in lines:
        name, *counts = line.rsplit(maxsplit=len(SPLITS))  # class names hold spaces
        shown[name] = [int(n) for n in counts]

    info = json.loads((project.root / "data" / "processed" / "dataset.json").read_text())
    expected = {name: [info["counts"][s][name] for s in SPLITS] for name in CLASS_NAMES}
    expected["outside the catalogue"] = [info["field"]["outside_rows"], 0, 0]
    expected["total"] = [sum(column) for column in zip(*expected.values(), strict=True)]
    assert shown == expected
    assert expected["total"][1:] == [N_TRAIN // 10, N_TEST]  # val_fraction 0.1 of N_TRAIN
    assert expected["outside the catalogue"][0] > 0  # the tiny delivery has hats, shorts, skirts


def test_its_field_counts_are_the_photos_of_each_folder(
    executed: nbformat.NotebookNode, project: Repo
) -> None:
    (cell,) = tagged(executed, "field-counts")
    assert "photos preprocess could not use: 0" in output_text(cell, "stream")
    _, *lines = output_text(cell, "result").splitlines()
    rows = [line.split(maxsplit=3) for line in lines]  # folder, train, validation, counts as
    categories = project.params()["field"]["categories"]
    assert [folder for folder, *_ in rows] == list(categories)
    for folder, train, validation, counts_as in rows:
        assert (int(train), int(validation)) == tuple(FIELD_PHOTOS.values()), folder
        classes = categories[folder]
        assert counts_as.endswith(classes[-1] if classes else "'not sure'"), folder


def test_its_step_by_step_conversion_is_the_one_preprocess_applied(
    executed: nbformat.NotebookNode,
) -> None:
    (cell,) = tagged(executed, "conversion")
    found = re.search(r"(\d+) of (\d+) conversions identical", output_text(cell, "stream"))
    assert found, output_text(cell, "stream")
    same, shown = map(int, found.groups())
    assert shown == 4  # one photo of each folder the notebook shows (all in the tiny delivery)
    assert same == shown


def committed_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_data_notebook_is_committed() -> None:
    assert NOTEBOOK in committed_notebooks()


@pytest.mark.parametrize("path", committed_notebooks(), ids=lambda p: p.name)
def test_a_committed_notebook_carries_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    strip = f"strip it with `.venv/bin/nbstripout {path.relative_to(REPO_ROOT)}`"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.id} has outputs: {strip}"
            assert cell.execution_count is None, f"cell {cell.id} has a count: {strip}"
    assert "widgets" not in notebook.metadata, f"widget state in the metadata: {strip}"
    # nbstripout's own rules (ids, timings, collapsed state…): what its git filter commits.
    check = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, f"{check.stdout}{check.stderr}: {strip}"


def test_the_git_filter_of_make_hooks_strips_a_notebook_as_it_is_staged(
    executed: nbformat.NotebookNode, tmp_path: Path
) -> None:
    dry_run = subprocess.run(
        ["make", "-n", "hooks"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert ".venv/bin/nbstripout --install" in dry_run.stdout
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    nbstripout = Path(sys.executable).parent / "nbstripout"
    subprocess.run([str(nbstripout), "--install"], cwd=tmp_path, check=True)
    nbformat.write(executed, tmp_path / "01-data.ipynb")  # with its outputs
    subprocess.run(["git", "add", "01-data.ipynb"], cwd=tmp_path, check=True)
    staged = subprocess.run(
        ["git", "show", ":01-data.ipynb"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    cells = nbformat.reads(staged, as_version=4).cells
    assert all(c.outputs == [] for c in cells if c.cell_type == "code")
