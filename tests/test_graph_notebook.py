"""Jupyter display of a Value: its graph as SVG, or text when it cannot be drawn."""

from graph_helpers import lecture_example, needs_wasm

from autodiff import Value
from autodiff.graph import render


@needs_wasm
def test_a_value_displays_as_the_svg_of_its_graph(monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)  # the embedded renderer, here and in CI
    f, _, _ = lecture_example()
    bundle = f._repr_mimebundle_()
    assert bundle["text/plain"] == repr(f)
    assert bundle["image/svg+xml"].startswith("<?xml") and ">grad 5.5</text>" in bundle["image/svg+xml"]


def test_a_frontend_that_wants_only_text_gets_no_rendering(monkeypatch):
    monkeypatch.setattr(render, "render_svg", lambda *a: (_ for _ in ()).throw(AssertionError("rendered")))
    f, _, _ = lecture_example()
    assert f._repr_mimebundle_(include={"text/plain"}) == {"text/plain": repr(f)}
    assert f._repr_mimebundle_(exclude={"image/svg+xml"}) == {"text/plain": repr(f)}


def test_a_graph_too_big_to_draw_falls_back_to_text_that_says_why():
    x = Value(0.5)
    for _ in range(600):
        x = x.sin()
    bundle = x._repr_mimebundle_()
    assert list(bundle) == ["text/plain"]
    assert bundle["text/plain"].startswith(repr(x))
    assert "graph not drawn: GraphTooLargeError: draw_dot: the graph has 601 nodes" in bundle["text/plain"]


def test_a_failing_renderer_falls_back_to_text(monkeypatch):
    def fail(source, renderer):
        raise render.RendererUnavailable("no SVG renderer")

    monkeypatch.setattr(render, "render_svg", fail)
    bundle = lecture_example()[0]._repr_mimebundle_()
    assert bundle == {
        "text/plain": repr(lecture_example()[0]) + "\n(graph not drawn: RendererUnavailable: no SVG renderer)"
    }


def test_the_reason_is_cut_at_the_end_of_a_sentence_not_at_an_abbreviation(monkeypatch):
    def fail(source, renderer):
        raise render.RendererUnavailable(
            "no SVG renderer: install Graphviz (e.g. apt-get install graphviz), i.e. dot. Then try again."
        )

    monkeypatch.setattr(render, "render_svg", fail)
    text = lecture_example()[0]._repr_mimebundle_()["text/plain"]
    assert text.endswith(
        "(graph not drawn: RendererUnavailable: no SVG renderer: install Graphviz (e.g. apt-get install graphviz), "
        "i.e. dot)"
    )
