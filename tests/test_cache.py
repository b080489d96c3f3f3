import pandas as pd
import pytest

from cqc_research.cache import atomic_path, cached_frame


def test_cache_hit_miss_and_corrupt_entry(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a\n1\n")
    calls = []

    def build():
        calls.append(1)
        return pd.DataFrame({"a": [len(calls)]})

    first = cached_frame(src, build, loader="t", cache_dir=tmp_path / "c")
    again = cached_frame(src, build, loader="t", cache_dir=tmp_path / "c")
    assert len(calls) == 1 and again["a"].tolist() == first["a"].tolist() == [1]
    (entry,) = (tmp_path / "c").glob("*.parquet")
    entry.write_bytes(b"not parquet")
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = cached_frame(src, build, loader="t", cache_dir=tmp_path / "c")
    assert len(calls) == 2 and rebuilt["a"].tolist() == [2]
    src.write_text("a\n2\n")  # a changed input is never served stale
    cached_frame(src, build, loader="t", cache_dir=tmp_path / "c")
    assert len(calls) == 3


def test_failed_build_leaves_no_entry(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a\n")

    def boom():
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        cached_frame(src, boom, loader="t", cache_dir=tmp_path / "c")
    assert not list((tmp_path / "c").glob("*")) if (tmp_path / "c").exists() else True


def test_atomic_path_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
