"""The reader refuses every rule break of CONVENTIONS §4, naming the file, the line and the field."""

from __future__ import annotations

import copy

import pytest
from navlog_helpers import HAND, HEADER, jsonl, write_jsonl

from ductree.errors import InputError
from ductree.io.navlog import DEPTH_TOL_MM, navlog_text, parse_navlog, read_navlog


def refused(tmp_path, records, name="scope.jsonl") -> InputError:
    path = tmp_path / name
    if name.endswith(".csv"):
        path.write_text(navlog_text(records, "csv"))
    else:
        write_jsonl(path, records)
    with pytest.raises(InputError) as exc:
        read_navlog(path)
    err = exc.value
    assert err.source == str(path) and str(path) in str(err)
    return err


def edited(line: int, **changes) -> list:
    """HAND with record on file line ``line`` (1-based; header = line 1) changed."""
    recs = copy.deepcopy(HAND)
    for k, v in changes.items():
        if v is None:
            recs[line - 1].pop(k, None)
        else:
            recs[line - 1][k] = v
    return recs


def test_the_hand_log_reads(tmp_path):
    log = read_navlog(write_jsonl(tmp_path / "s.jsonl", HAND), warn=False)
    assert log.n_samples == 16 and log.laterality == "R" and log.orifice_clock == 6.0
    assert log.orifice_offset_mm == 1.5  # the §4 default
    assert [e.kind for e in log.events] == ["bifurcation", "enter", "end", "enter", "finding", "bifurcation",
                                            "enter", "end", "retrieval"]
    assert log.line.tolist() == list(range(2, 18))


@pytest.mark.parametrize("name", ["scope.jsonl", "scope.csv"])
@pytest.mark.parametrize("line,changes,key,words", [
    (4, {"t": 0.5}, "t", "backwards"),
    (2, {"t": -1}, "t", "negative time"),
    (6, {"depth_mm": -1.5}, "depth_mm", "negative depth"),
    (5, {"depth_mm": 3.0}, "depth_mm", "no bifurcation at that depth"),
    (11, {"lumen": 2}, "lumen", "out of range"),
    (4, {"event": "trifurcation"}, "event", "unknown event"),
    (12, {"size_mm": None}, "size_mm", "needs field"),
    (12, {"kind": "polyp"}, "kind", "unknown kind"),
    (7, {"reason": "bored"}, "reason", "unknown reason"),
    (16, {"method": "laser"}, "method", "unknown method"),
    (16, {"label": "P9"}, "label", "no finding labelled 'P9'"),
    (4, {"lumens": [3, "6:75"]}, "lumens", "'6:75'"),
    (4, {"lumens": [3]}, "lumens", "at least 2"),
    (5, {"label": "P1"}, "label", "does not belong to event 'enter'"),
    (6, {"lumen": 1}, "lumen", "needs an event"),
    (4, {"angles_deg": [30]}, "angles_deg", "1 angles for 2 lumens"),
])
def test_rule_breaks_name_line_and_field(tmp_path, name, line, changes, key, words):
    err = refused(tmp_path, edited(line, **changes), name)
    # CSV: 4 "# key=value" lines and the column row stand where the JSONL header line does
    expected = line + (4 if name.endswith(".csv") else 0)
    assert err.line == expected and err.key == key, str(err)
    assert words in str(err)


def test_unknown_field_in_jsonl(tmp_path):
    err = refused(tmp_path, edited(3, speed=2.0))
    assert (err.line, err.key) == (3, "speed") and "unknown field" in str(err)


def test_duplicate_finding_label(tmp_path):
    recs = copy.deepcopy(HAND)
    recs.insert(12, {"t": 10.5, "depth_mm": 15, "event": "finding", "label": "P1", "kind": "dcis", "size_mm": 2})
    err = refused(tmp_path, recs)
    assert (err.line, err.key) == (13, "label") and "duplicate finding label 'P1'" in str(err)
    assert "line 12" in str(err)


def test_verify_needs_a_retrieval_first(tmp_path):
    recs = copy.deepcopy(HAND)
    recs.insert(12, {"t": 10.5, "depth_mm": 14, "event": "verify", "label": "P1", "result": "empty"})
    err = refused(tmp_path, recs)
    assert (err.line, err.key) == (13, "label") and "before any retrieval" in str(err)


def test_advancing_past_a_bifurcation_needs_an_enter(tmp_path):
    recs = copy.deepcopy(HAND)
    del recs[4]          # no enter after the bifurcation at 10 mm
    err = refused(tmp_path, recs)
    # line 5 now reads 15 mm: more than DEPTH_TOL_MM past the bifurcation at 10 mm
    assert 15 > 10 + DEPTH_TOL_MM
    assert (err.line, err.key) == (5, "depth_mm") and "without an 'enter'" in str(err)


def test_enter_tolerance_is_depth_tol(tmp_path):
    # an enter DEPTH_TOL_MM away still finds the bifurcation; a bit further does not
    ok = edited(5, depth_mm=10 + DEPTH_TOL_MM)
    log = read_navlog(write_jsonl(tmp_path / "ok.jsonl", ok), warn=False)
    assert len(log.branches) == 4
    err = refused(tmp_path, edited(5, depth_mm=10 + DEPTH_TOL_MM + 0.2))
    assert err.line == 5 and err.key == "depth_mm"


@pytest.mark.parametrize("drop", ["format", "version", "laterality", "orifice_clock"])
def test_missing_header_field(tmp_path, drop):
    recs = copy.deepcopy(HAND)
    del recs[0][drop]
    err = refused(tmp_path, recs)
    assert err.key == drop
    if drop != "format":
        assert f"missing header field '{drop}'" in str(err)
    err = refused(tmp_path, recs, "scope.csv")
    assert err.key == drop


@pytest.mark.parametrize("changes,key,words", [
    ({"version": 2}, "version", "unsupported version 2"),
    ({"format": "other-log"}, "format", "not a ductree-navlog"),
    ({"laterality": "X"}, "laterality", "'L' or 'R'"),
    ({"orifice_clock": 13}, "orifice_clock", "13"),
    ({"surgeon": "Dr X"}, "surgeon", "unknown header field"),
    ({"scope_od_mm": 0}, "scope_od_mm", "> 0"),
])
def test_bad_header(tmp_path, changes, key, words):
    recs = copy.deepcopy(HAND)
    recs[0].update(changes)
    err = refused(tmp_path, recs)
    assert err.key == key and err.line == 1 and words in str(err)


def test_header_must_come_first_and_once(tmp_path):
    recs = copy.deepcopy(HAND)
    recs[0], recs[1] = recs[1], recs[0]
    err = refused(tmp_path, recs)
    assert err.line == 1 and "not a ductree-navlog" in str(err)
    recs = copy.deepcopy(HAND) + [dict(HEADER)]
    err = refused(tmp_path, recs)
    assert err.line == 18 and "second header" in str(err)


def test_invalid_json_line_and_bad_tip(tmp_path):
    p = tmp_path / "s.jsonl"
    text = jsonl(HAND).splitlines()
    text[5] = '{"t": 4, "depth_mm": 15'
    p.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError) as exc:
        read_navlog(p)
    assert exc.value.line == 6 and "not valid JSON" in str(exc.value)
    err = refused(tmp_path, edited(3, tip=[1.0, 2.0]))
    assert (err.line, err.key) == (3, "tip")
    err = refused(tmp_path, edited(3, tip=[1.0, "a", 2.0]))
    assert (err.line, err.key) == (3, "tip")
    err = refused(tmp_path, edited(3, depth_mm="5"))
    assert (err.line, err.key) == (3, "depth_mm") and "number" in str(err)


def test_csv_columns_must_match(tmp_path):
    good = navlog_text(HAND, "csv")
    lines = good.splitlines()
    col_line = next(i for i, s in enumerate(lines) if not s.startswith("#")) + 1
    p = tmp_path / "s.csv"
    p.write_text(good.replace("depth_mm,", "depth,", 1))
    with pytest.raises(InputError) as exc:
        read_navlog(p)
    assert exc.value.line == col_line and exc.value.key == "depth" and "unknown column" in str(exc.value)
    bad = lines[:]
    bad[col_line + 2] += ",extra"
    p.write_text("\n".join(bad) + "\n")
    with pytest.raises(InputError) as exc:
        read_navlog(p)
    assert exc.value.line == col_line + 3 and "values but the column row has" in str(exc.value)
    p.write_text("# format=ductree-navlog\n# version=1\n# laterality=R\n# orifice_clock=6\ndepth_mm\n0\n")
    with pytest.raises(InputError) as exc:
        read_navlog(p)
    assert (exc.value.line, exc.value.key) == (5, "t") and "missing column 't'" in str(exc.value)


def test_csv_without_header_lines_or_columns(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("t,depth_mm\n0,0\n")
    with pytest.raises(InputError, match="no '# key=value' header lines"):
        read_navlog(p)
    p.write_text("# format=ductree-navlog\n# version=1\n# laterality=R\n# orifice_clock=6\n")
    with pytest.raises(InputError, match="no column row"):
        read_navlog(p)


@pytest.mark.parametrize("content,words", [
    (b"", "empty file"),
    (b"\n\n", "empty file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not a text file"),
    (b'{\n "schema": "ductree.tree/1", "nodes": []\n}\n', "not a ductree-navlog"),
    (b'{"schema": "ductree.tree/1", "nodes": []}\n', "not a ductree-navlog"),
    (b"hello world\n", "not a ductree-navlog"),
])
def test_empty_and_foreign_files(tmp_path, content, words):
    p = tmp_path / "scope.jsonl"
    p.write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_navlog(p)
    assert words in str(exc.value) and str(p) in str(exc.value)


def test_unknown_suffix_is_sniffed_or_refused(tmp_path):
    p = tmp_path / "scope.log"
    p.write_text(jsonl(HAND))
    assert read_navlog(p, warn=False).n_samples == 16
    p.write_text("0,0\n")
    with pytest.raises(InputError, match="unknown log format '.log'"):
        read_navlog(p)
    with pytest.raises(InputError, match="no such file"):
        read_navlog(tmp_path / "missing.jsonl")


def test_header_only_is_refused(tmp_path):
    with pytest.raises(InputError, match="no samples"):
        parse_navlog(jsonl([HEADER]), "jsonl")


def test_100k_samples_parse(tmp_path):
    recs = [HEADER] + [{"t": i * 0.05, "depth_mm": 20.0 + (i % 40) * 0.1, "tip": [0.1 * (i % 7), 20.0, -1.0]}
                       for i in range(100_000)]
    for fmt in ("jsonl", "csv"):
        p = tmp_path / f"big.{fmt}"
        p.write_text(navlog_text(recs, fmt))
        log = read_navlog(p)  # speed is measured in benchmarks/bench_navlog.py, not here
        assert log.n_samples == 100_000 and log.has_tracker


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_windows_line_endings_and_bom(tmp_path, fmt):
    text = navlog_text(HAND, fmt)
    p = tmp_path / f"win.{fmt}"
    p.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    log = read_navlog(p, warn=False)
    assert log.records() == parse_navlog(text, fmt).records()
    # line numbers still count from the top of the file
    bad = copy.deepcopy(HAND)
    bad[5]["depth_mm"] = -1
    p.write_bytes(navlog_text(bad, fmt).replace("\n", "\r\n").encode("utf-8"))
    with pytest.raises(InputError) as exc:
        read_navlog(p)
    assert exc.value.line == 6 + (4 if fmt == "csv" else 0)
