"""The pictures in demos/gallery/ (shown in the README) are exactly what the code draws today."""

import pytest
from graph_helpers import needs_wasm

from demos.draw_gallery import GALLERY, pictures


@needs_wasm
def test_the_checked_in_pictures_are_regenerated_byte_for_byte():
    drawn = pictures()
    assert set(drawn) <= {p.name for p in GALLERY.glob("*.svg")}
    for name, svg in drawn.items():
        assert (GALLERY / name).read_text(encoding="utf-8") == svg, f"{name}: run python -m demos.draw_gallery"


@pytest.mark.parametrize("name", ["lecture_example.svg", "lecture_example_contributions.svg"])
def test_the_lecture_picture_shows_the_lecture_gradients(name):
    svg = (GALLERY / name).read_text(encoding="utf-8")
    assert ">grad 5.5</text>" in svg and ">grad 1.716</text>" in svg
