import matplotlib.pyplot as plt
import pandas as pd
from PIL import Image

from cqc_research.notebook_output import BANNER_TEXT, Report, check_outputs, is_synthetic


def _synthetic_folder(tmp_path):
    root = tmp_path / "syn"
    (root / "cqc").mkdir(parents=True)
    (root / "SYNTHETIC").write_text("x")
    f = root / "cqc" / "file.csv"
    f.write_text("a\n1\n")
    return f


def test_is_synthetic_walks_up_to_the_marker(tmp_path):
    f = _synthetic_folder(tmp_path)
    real = tmp_path / "real.csv"
    real.write_text("a\n")
    assert is_synthetic(f) and is_synthetic(f.parent)
    assert not is_synthetic(real)
    frame = pd.DataFrame({"a": [1]})
    frame.attrs["synthetic"] = True
    assert is_synthetic(real, frame)


def test_synthetic_outputs_are_stamped_and_the_detector_agrees(tmp_path):
    rep = Report(tmp_path / "run", sources=[_synthetic_folder(tmp_path)])
    assert rep.synthetic
    t = rep.save_table(pd.DataFrame({"x": [1, 2]}), "t")
    assert pd.read_csv(t)["data_status"].eq(BANNER_TEXT).all()
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    p = rep.save_figure(fig, "f")
    assert Image.open(p).info["cqc-research-data"] == BANNER_TEXT
    assert any(t.get_text() == BANNER_TEXT for t in fig.texts)
    (tmp_path / "run" / "r.html").write_text(f"<p>{BANNER_TEXT}</p>")
    assert check_outputs(tmp_path / "run", synthetic=True) == []


def test_detector_flags_unstamped_outputs(tmp_path):
    rep = Report(tmp_path / "run", sources=[])  # real data: nothing stamped
    rep.save_table(pd.DataFrame({"x": [1]}), "t")
    fig, _ = plt.subplots()
    rep.save_figure(fig, "f")
    (tmp_path / "run" / "r.html").write_text("<p>no banner</p>")
    assert check_outputs(tmp_path / "run", synthetic=False) == []
    assert check_outputs(tmp_path / "run", synthetic=True) == ["figures/f.png", "r.html", "tables/t.csv"]
