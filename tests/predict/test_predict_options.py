"""``auzoo.predict``'s settings: keywords and a PredictOptions object are one road."""
from __future__ import annotations

import pandas as pd
import pytest

import auzoo
from auzoo.inference import Predictor, PredictOptions


def test_an_options_object_and_keywords_give_the_same_table(photos, tiny_ckpt, tmp_path):
    options = PredictOptions(every=2, face_threshold=0.5, workers=0, progress=False,
                             out=tmp_path / "a.csv")
    by_object = auzoo.predict(photos["astronaut"], weights=tiny_ckpt, options=options)
    by_keywords = auzoo.predict(photos["astronaut"], weights=tiny_ckpt, every=2,
                                face_threshold=0.5, workers=0, progress=False,
                                out=tmp_path / "b.csv")
    pd.testing.assert_frame_equal(by_object, by_keywords)
    assert by_object.attrs["settings"]["face_threshold"] == 0.5
    assert by_object.attrs["settings"]["every"] == 2
    assert (tmp_path / "a.csv").is_file() and (tmp_path / "b.csv").is_file()
    # a keyword wins over the object's field
    strict = auzoo.predict(photos["astronaut"], weights=tiny_ckpt, options=options,
                           face_threshold=9.0, out=None)
    assert strict.attrs["settings"]["face_threshold"] == 9.0
    assert (strict["success"] == 0).all()   # no face scores 9


def test_a_predictor_takes_the_table_settings_from_its_options_unless_the_call_gives_them(
        photos, tiny_ckpt, tmp_path):
    out = tmp_path / "faces.csv"
    predictor = Predictor(tiny_ckpt, options=PredictOptions(workers=0, progress=False, out=out,
                                                            format="openface"))
    predictor(photos["astronaut"])
    assert out.read_text().startswith("frame, face_id")   # OpenFace's header
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        predictor(photos["astronaut"])
    predictor(photos["astronaut"], overwrite=True, format="auzoo")
    assert out.read_text().startswith("file,frame")


def test_an_unknown_option_is_refused_by_name_before_anything_loads(tmp_path):
    missing = tmp_path / "nowhere.pth"   # never opened: the option is checked first
    with pytest.raises(TypeError, match=r"unknown option 'detect_evry' \(did you mean "
                                        r"'detect_every'\?\); its options are every, detector"):
        auzoo.predict("x.jpg", weights=missing, detect_evry=3)
    with pytest.raises(TypeError, match="unknown option 'colour'"):
        Predictor(missing, colour=True)
    with pytest.raises(TypeError, match="options must be a PredictOptions, not dict"):
        auzoo.predict("x.jpg", weights=missing, options=dict(every=2))


@pytest.mark.parametrize("field, value, message", [
    ("every", 0, "every must be an integer >= 1, not 0"),
    ("batch_size", 2.5, "batch_size must be an integer >= 1, not 2.5"),
    ("detect_every", True, "detect_every must be an integer >= 1, not True"),
    ("workers", -1, "workers must be an integer >= 0, not -1"),
    ("detect_size", 0, "detect_size must be >= 1 or None, not 0"),
    ("detector", "haar", "detector must be one of hog, cnn, not 'haar'"),
    ("format", "xlsx", "format must be one of auzoo, openface, not 'xlsx'"),
    ("precision", "fp8", "unknown precision 'fp8'"),
])
def test_bad_values_are_refused_naming_the_option(field, value, message):
    with pytest.raises(ValueError, match=message):
        PredictOptions(**{field: value})


def test_the_options_are_frozen_and_reachable_from_the_package():
    assert auzoo.PredictOptions is PredictOptions
    options = PredictOptions()
    with pytest.raises(AttributeError):
        options.every = 3
    assert PredictOptions.resolve(options, dict(every=3)).every == 3 and options.every == 1
