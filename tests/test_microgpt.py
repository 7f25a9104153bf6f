"""The microgpt demo and its benchmark: they run, their checks pass, and a seed fixes everything they print."""

import json
import random

import pytest

import nn
from demos import bench_microgpt
from demos import microgpt as demo


def run(tmp_path, *args: str) -> dict:
    return demo.main(["--quick", "--out", str(tmp_path), *args])


def test_the_quick_demo_trains_samples_and_writes_its_four_files(tmp_path):
    results = run(tmp_path)
    losses, samples = results["losses"], results["samples"]
    assert len(losses) == 20 and len(samples) == 20
    assert losses[0] == pytest.approx(3.3659669475848504, abs=1e-12)  # microgpt's first loss (seed 42)
    assert sum(losses[-5:]) < sum(losses[:5])  # it learns
    assert all(set(s) <= set("abcdefghijklmnopqrstuvwxyz") and len(s) <= 16 for s in samples)
    names = sorted(path.name for path in results["files"])
    assert names == ["microgpt.json", "microgpt_attention.png", "microgpt_loss.png", "microgpt_score.html"]
    for path in results["files"]:
        assert path.stat().st_size > 0
    assert (tmp_path / "microgpt_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "microgpt_score.html").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "microgpt.json").read_text())["model"] == "GPT"


def test_the_demo_is_deterministic_for_a_seed_and_another_seed_changes_it(tmp_path):
    first = run(tmp_path / "a", "--steps", "5")
    second = run(tmp_path / "b", "--steps", "5")
    other = run(tmp_path / "c", "--steps", "5", "--seed", "1")
    assert first["losses"] == second["losses"] and first["samples"] == second["samples"]
    assert (tmp_path / "a" / "microgpt.json").read_bytes() == (tmp_path / "b" / "microgpt.json").read_bytes()
    assert other["losses"] != first["losses"] and other["samples"] != first["samples"]


@pytest.mark.slow
def test_the_compiled_demo_trains_to_the_eager_losses(tmp_path):
    eager = run(tmp_path / "eager", "--steps", "6")
    compiled = run(tmp_path / "compiled", "--steps", "6", "--compiled")
    assert compiled["losses"] == pytest.approx(eager["losses"], abs=1e-12)
    assert compiled["samples"] == eager["samples"]
    names = nn.text.load_names()
    random.Random(42).shuffle(names)
    # one program per padded length: a name of k letters needs k + 1 positions, run in the next power of two
    assert compiled["compiled_programs"] == len({min(16, 1 << len(name).bit_length()) for name in names[:6]})


def test_a_name_the_demo_cannot_draw_is_a_one_line_error(tmp_path, capsys):
    for name, message in [("Emma", "character 'E' at 0 of 'Emma' is not in the vocabulary"), ("", "1 to 15 letters")]:
        with pytest.raises(SystemExit):
            run(tmp_path, "--name", name)
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_the_benchmark_runs_every_engine_to_the_same_losses():
    results = bench_microgpt.main(["--names", "1", "--steps", "2"])  # exits with an error if any loss differs by 1e-9
    assert set(results["full runs"]) == {"gist / microgpt engine", "gist / autodiff.Value", "nn.GPT eager",
                                         "nn.GPT compiled"}  # fmt: skip
    assert results["final loss"] == pytest.approx(3.4242727838717717, abs=1e-12)  # microgpt's second step
