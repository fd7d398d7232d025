from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from steering.errors import TopologyError
from steering.topofile import (
    _fast_entries,
    _NotFast,
    _prefix_block,
    load_topology,
    parse_topology,
)

SITES = """\
sites:
  - id: ams-ix
    location: {lat: 52.37, lon: 4.90}
    edges:
      - {id: ams-1, url: "http://127.0.0.1:8101", capacity_gbps: 10}
  - id: fra-ix
    edges:
      - {id: fra-1, url: "http://127.0.0.1:8201", capacity_gbps: 10}
"""

FLOW = SITES + """\
prefixes:                      # client networks as learned from BGP
  - {prefix: 10.1.0.0/16, sites: [ams-ix, fra-ix]}

  # a comment line
  - {prefix: "2001:db8::/32", sites: [fra-ix]}   # trailing comment
  - { prefix: '10.2.0.0/16' , sites: [ "fra-ix", 'ams-ix' ] }
default_sites: [fra-ix]        # when no prefix matches
"""

BLOCK = SITES + """\
prefixes:
  - prefix: 10.1.0.0/16
    sites: [ams-ix, fra-ix]
  - prefix: "2001:db8::/32"
    sites:
      - fra-ix
  - {prefix: '10.2.0.0/16', sites: ["fra-ix", 'ams-ix']}
default_sites: [fra-ix]
"""

def fast(text: str) -> int:
    """Entries the fast path reads (raises _NotFast when it does not apply)."""
    block = _prefix_block(text)
    assert block is not None
    return len(list(_fast_entries(text, *block)))


EXPECTED = [
    ("10.1.0.0/16", ("ams-ix", "fra-ix")),
    ("10.2.0.0/16", ("fra-ix", "ams-ix")),
    ("2001:db8::/32", ("fra-ix",)),
]


def test_flow_form_takes_the_fast_path() -> None:
    assert fast(FLOW) == 3
    t = parse_topology(FLOW)
    assert sorted(t.prefixes.items()) == EXPECTED
    assert t.default_sites == ("fra-ix",)


def test_block_form_falls_back_to_yaml_with_the_same_result() -> None:
    with pytest.raises(_NotFast):
        fast(BLOCK)
    assert sorted(parse_topology(BLOCK).prefixes.items()) == EXPECTED


def test_json_is_read_as_json() -> None:
    t = parse_topology(SITES)
    document = {
        "sites": [{"id": s.id, "edges": [
            {"id": e.id, "url": e.url, "capacity_gbps": e.capacity_gbps} for e in s.edges]}
            for s in t.sites],
        "prefixes": [{"prefix": p, "sites": list(v)} for p, v in EXPECTED],
        "default_sites": ["fra-ix"],
    }
    assert sorted(parse_topology(json.dumps(document)).prefixes.items()) == EXPECTED


def test_crlf_and_column_zero_dashes() -> None:
    text = (SITES + "prefixes:\n- {prefix: 10.1.0.0/16, sites: [ams-ix]}\n").replace("\n", "\r\n")
    assert fast(text) == 1
    assert list(parse_topology(text).prefixes.items()) == [("10.1.0.0/16", ("ams-ix",))]


def test_prefixes_last_in_the_file() -> None:
    text = SITES + "default_sites: [ams-ix]\nprefixes:\n  - {prefix: 10.0.0.0/8, sites: [fra-ix]}"
    t = parse_topology(text)
    assert list(t.prefixes.items()) == [("10.0.0.0/8", ("fra-ix",))]
    assert t.default_sites == ("ams-ix",)


def test_fast_path_errors_name_the_line() -> None:
    text = SITES + "prefixes:\n  - {prefix: 10.0.0.0/8, sites: [ams-ix]}\n" \
                   "  - {prefix: 10.1.2.0/16, sites: [ams-ix]}\n"
    with pytest.raises(TopologyError, match=r"^t\.yaml: line 11: '10\.1\.2\.0/16': host bits"):
        parse_topology(text, "t.yaml")
    text = SITES + "prefixes:\n  - {prefix: 10.0.0.0/8, sites: [ams-ix, nowhere]}\n"
    with pytest.raises(TopologyError, match=r"line 10 \(10\.0\.0\.0/8\): unknown site 'nowhere'"):
        parse_topology(text)
    text = SITES + "prefixes:\n  - {prefix: 10.0.0.0/8, sites: [\"ams-ix]}\n"
    with pytest.raises(TopologyError, match="line 10: unbalanced quote"):
        parse_topology(text)


def test_yaml_errors_keep_their_line_numbers_with_the_block_blanked() -> None:
    text = SITES + "prefixes:\n  - {prefix: 10.0.0.0/8, sites: [ams-ix]}\n" \
                   "default_sites: [fra-ix\n"
    with pytest.raises(yaml.YAMLError) as plain:
        yaml.safe_load(text)
    with pytest.raises(TopologyError, match="invalid YAML") as ours:
        parse_topology(text)
    mark = plain.value.problem_mark  # type: ignore[attr-defined]
    assert f"line {mark.line + 1}, column {mark.column + 1}" in str(ours.value)


def test_an_empty_prefix_block_is_no_prefixes() -> None:
    t = parse_topology(SITES + "prefixes:\ndefault_sites: [ams-ix]\n")
    assert len(t.prefixes) == 0


def test_a_repeated_prefix_block_is_left_to_yaml() -> None:
    text = SITES + "prefixes:\n  - {prefix: 10.0.0.0/8, sites: [ams-ix]}\n" \
                   "prefixes:\n  - {prefix: 11.0.0.0/8, sites: [ams-ix]}\n"
    assert _prefix_block(text) is None


def test_load_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read"):
        load_topology(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"sites: \xff\n")
    with pytest.raises(TopologyError, match="not UTF-8"):
        load_topology(bad)
    ok = tmp_path / "ok.yaml"
    ok.write_text(FLOW)
    assert load_topology(ok).source == str(ok)


def test_invalid_json() -> None:
    with pytest.raises(TopologyError, match="invalid JSON"):
        parse_topology("{\"sites\": [}")


def test_many_prefixes_load_quickly() -> None:
    lines = [f"  - {{prefix: 10.{i // 256}.{i % 256}.0/24, sites: [ams-ix, fra-ix]}}"
             for i in range(50_000)]
    t = parse_topology(SITES + "prefixes:\n" + "\n".join(lines) + "\n")
    assert len(t.prefixes) == 50_000
    assert t.prefixes.lookup("10.195.79.1").prefix == "10.195.79.0/24"  # type: ignore[union-attr]


def test_an_unknown_top_level_key_after_the_block_is_still_an_error() -> None:
    text = SITES + "prefixes:\n  - {prefix: 10.0.0.0/8, sites: [ams-ix]}\nextra: 1\n"
    with pytest.raises(TopologyError, match="unknown key 'extra'"):
        parse_topology(text)
