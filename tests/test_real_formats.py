"""The loaders on real published files of every layout (../shared/data/real_formats).

Every expected figure is computed here from the raw file, with the csv module, calamine or plain
loops over the JSON, never with the loader under test.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest

from cqc_research.io import detect_kind, explain, load
from cqc_research.io.cqc_json import load_api_folder
from cqc_research.io.nhs import load_ae_monthly
from cqc_research.ratings import UnknownRatingWarning

pytestmark = pytest.mark.realdata

CSV_FILES = ["MSitAE-JANUARY-2019.csv", "May-2020-revised-260421-de345.csv",
             "Monthly-AE-November-2021.csv"]
XLS_FILES = ["April-2016-AE-by-provider-1Ez1q.xls",
             "April-2017-AE-by-provider-revised-14.06.18-D44fd.xls"]


@pytest.fixture(scope="module")
def real(shared_data) -> Path:
    folder = shared_data / "real_formats"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def _num(text) -> float:
    return float(str(text).replace(",", "").strip() or 0)


def _csv_national(path):
    """(attendances, breaches, organisations) from the TOTAL row, by plain reading of the CSV."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip().casefold() for h in rows[0]]
    att = [i for i, h in enumerate(header) if "attendances" in h and "over 4" not in h]
    br = [i for i, h in enumerate(header) if "over 4" in h]
    total = [r for r in rows[1:] if any(c.strip().casefold() == "total" for c in r[:4])]
    orgs = [r for r in rows[1:] if r and not any(c.strip().casefold() == "total" for c in r[:4])
            and r[1].strip()]
    assert len(total) == 1 and len(att) in (3, 6) and len(br) == len(att)
    return sum(_num(total[0][i]) for i in att), sum(_num(total[0][i]) for i in br), len(orgs)


def _xls_national(path):
    """(attendances, breaches, organisations) from the England row, read with calamine."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    name = next((s for s in wb.sheet_names if "provider" in s.casefold()), wb.sheet_names[0])
    rows = wb.get_sheet_by_name(name).to_python()
    h = next(i for i, r in enumerate(rows) if r[0] == "Code")
    groups, current = [], ""
    for g in rows[h - 1]:
        current = g or current
        groups.append(current)
    sub = rows[h]
    att = [j for j, s in enumerate(sub) if s.startswith("Type") and groups[j] == "A&E attendances"]
    br = [j for j, s in enumerate(sub) if s.startswith("Type") and (
        "> 4 hours" in groups[j] or "greater than 4 hours" in groups[j])]
    england = [r for r in rows if r[2] == "England"]
    orgs = [r for r in rows[h + 1:] if r[0] not in ("", "-")]
    assert len(att) == 3 and len(br) == 3 and len(england) == 1
    return sum(float(england[0][j]) for j in att), sum(float(england[0][j]) for j in br), len(orgs)


def _national(frame, measure):
    sel = frame[frame.measure == measure]
    return float(sel.value.sum()), sel.org_code.nunique()


@pytest.mark.parametrize("name", CSV_FILES + XLS_FILES)
def test_ae_national_totals_equal_the_files_own_total(real, name):
    folder = "ae_monthly_csv" if name.endswith(".csv") else "ae_by_provider_xls"
    path = real / folder / name
    att, br, n_orgs = (_csv_national if name.endswith(".csv") else _xls_national)(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mismatch warning, no unparseable cells
        ae = load_ae_monthly(path)
    got_att, n = _national(ae, "ae_attendances_all")
    got_br, _ = _national(ae, "ae_breaches_all")
    assert (got_att, got_br) == (att, br)
    assert n <= n_orgs and ae.period_start.nunique() == 1


def test_ae_one_call_reads_a_folder_of_every_layout(real, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    expected = {}
    for folder, names in (("ae_monthly_csv", CSV_FILES), ("ae_by_provider_xls", XLS_FILES)):
        for name in names:
            src = real / folder / name
            (mixed / name).symlink_to(src)
            fn = _csv_national if name.endswith(".csv") else _xls_national
            expected[name] = fn(src)[0]
    ae, reports = load_ae_monthly(mixed, with_report=True)
    per_month = ae[ae.measure == "ae_attendances_all"].groupby("period_start").value.sum()
    assert sorted(per_month.tolist()) == sorted(expected.values())
    assert {r.layout for r in reports} == {"csv-2018", "csv-2020", "csv-2020-booked",
                                           "workbook-2015", "workbook-2017"}
    assert [str(p.date()) for p in sorted(per_month.index)] == [
        "2016-04-01", "2017-04-01", "2019-01-01", "2020-05-01", "2021-11-01"]


def test_ae_explain_names_header_roles_drops_and_missing(real):
    path = real / "ae_by_provider_xls" / XLS_FILES[0]
    _, reports = explain(path)
    text = str(reports[0])
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("A&E Data").to_python()
    n_na = sum(1 for r in rows for c in r if c == "N/A")
    assert "layout: workbook-2015" in text and "sheet: 'A&E Data'" in text
    assert "'Code' -> org_code" in text
    assert "'A&E attendances | Type 1 Departments - Major A&E' -> attendances, type1" in text
    assert "dropped 1: England row" in text and "'April 2016'" in text
    shown = sum(int(line.rsplit("x", 1)[1].replace(",", "")) for line in text.splitlines()
                if "'N/A' x" in line)
    assert shown == n_na
    csv_text = str(explain(real / "ae_monthly_csv" / CSV_FILES[0])[1][0])
    assert "header row: 1" in csv_text and "dropped 1: total row (TOTAL)" in csv_text
    assert "'Number of attendances over 4hrs Type 1' -> attendances over 4 hours, type1" in csv_text


def test_every_sample_is_detected_and_loads_at_the_defaults(real):
    paths = [real / "ae_monthly_csv" / n for n in CSV_FILES]
    paths += [real / "ae_by_provider_xls" / n for n in XLS_FILES]
    for p in paths:
        assert detect_kind(p) == "indicators"
        assert len(load(p))
    assert detect_kind(real / "cqc_api_2021") == "api_folder"


def _plain_history(folder):
    """(org, link, domain, date) -> raw rating text, from current and historic ratings."""
    seen = {}
    files = sorted((folder / "locations").glob("*.json"))
    files += sorted((folder / "providers").glob("*.json")) if (folder / "providers").is_dir() else []
    for f in files:
        rec = json.loads(f.read_text(encoding="utf-8"))
        org = rec.get("locationId") or rec.get("providerId")
        blocks = []
        cur = (rec.get("currentRatings") or {}).get("overall")
        if cur:
            blocks.append((cur, None, None))
        for h in rec.get("historicRatings") or []:
            if h.get("overall"):
                blocks.append((h["overall"], h.get("reportDate"), h.get("reportLinkId")))
        for ov, date, link in blocks:
            d, lk = ov.get("reportDate") or date, ov.get("reportLinkId") or link
            seen.setdefault((org, lk, "Overall", d), ov.get("rating"))
            for kq in ov.get("keyQuestionRatings") or []:
                key = (org, kq.get("reportLinkId") or lk, kq.get("name"), kq.get("reportDate") or d)
                seen.setdefault(key, kq.get("rating"))
    return files, seen


@pytest.mark.parametrize("folder", ["real_formats/cqc_api_2021", "cqc_api_oldham_2024"])
def test_api_records_of_every_vintage_load_at_the_defaults(shared_data, folder):
    path = shared_data / folder
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    files, plain = _plain_history(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownRatingWarning)
        api = load_api_folder(path, use_cache=False)
    locs = [f for f in files if f.parent.name == "locations"]
    assert len(api.locations) == len(locs)
    hist = api.history[api.history["source"] != "assessment"]  # the loader always writes "source"
    assert len(hist) == len(plain)
    raw_counts = {}
    for v in plain.values():
        raw_counts[v] = raw_counts.get(v, 0) + 1
    text_counts = hist["rating_text"].astype("object").value_counts().to_dict()
    for value, n in raw_counts.items():
        if value:
            assert text_counts.get(value) == n, value
    assert (hist["rating_status"] == "Unknown").sum() == 0
    if folder.endswith("2021"):
        assert (hist["rating_status"] == "No action").sum() == raw_counts["No action"] == 17
        dereg = sum(json.loads(f.read_text())["registrationStatus"] == "Deregistered" for f in locs)
        assert (api.locations["registration_status"] == "Deregistered").sum() == dereg == 3
        # day-first registration dates ('04/11/2013') are read day-first, never dropped
        raw = {json.loads(f.read_text())["locationId"]: json.loads(f.read_text())["registrationDate"]
               for f in locs}
        got = dict(zip(api.locations["org_id"], api.locations["registration_date"], strict=True))
        for org, text in raw.items():
            if "/" in text:
                d, m, y = (int(x) for x in text.split("/"))
            else:
                y, m, d = (int(x) for x in text[:10].split("-"))
            assert (got[org].year, got[org].month, got[org].day) == (y, m, d), org


def test_cli_load_every_sample_at_the_defaults(real, tmp_path, capsys):
    from cqc_research.cli import main

    targets = [real / "ae_monthly_csv" / n for n in CSV_FILES]
    targets += [real / "ae_by_provider_xls" / n for n in XLS_FILES] + [real / "cqc_api_2021"]
    for t in targets:
        assert main(["load", str(t), "--out", str(tmp_path / "x.parquet")]) == 0, t
    assert main(["load", str(real / "cqc_api_2021"), "--out", str(tmp_path / "y.parquet"),
                 "--explain"]) == 0
    out = capsys.readouterr().out
    assert "No action 17" in out and "day-first" in out
