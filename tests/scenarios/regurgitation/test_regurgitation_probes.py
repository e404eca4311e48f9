"""Probe sources: built-in probes from the Python installation, the reference corpus, user corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import ConfigError, DataError
from scenarios.regurgitation import probes
from scenarios.regurgitation.metrics import word_tokens


def column(documents: probes.ProbeDocuments, name: str) -> list[object]:
    """One field of every probe document, in order."""
    return [document[name] for document in documents]


def test_builtin_probes_come_from_the_installation() -> None:
    documents = probes.builtin_probes()
    assert list(documents[0]) == list(probes.PROBE_COLUMNS)
    by_subset = pd.DataFrame(documents).groupby("subset")["id"].apply(list).to_dict()
    assert "zen-of-python" in by_subset["zen"]
    assert "license:psf-2.0" in by_subset["license"]
    assert "stdlib:heapq.py" in by_subset["stdlib"]
    heapq = next(row for row in documents if row["id"] == "stdlib:heapq.py")
    assert heapq["kind"] == "code" and heapq["language"] == "python"
    assert heapq["text"].startswith("def heappush(heap, item):")  # from the first top-level def


def test_zen_of_python_is_decoded_without_printing(capsys: pytest.CaptureFixture[str]) -> None:
    zen = probes.zen_of_python()
    assert zen.startswith("The Zen of Python, by Tim Peters")
    assert "Beautiful is better than ugly." in zen
    assert "Namespaces are one honking great idea" in zen
    assert capsys.readouterr().out == ""


def test_license_texts_start_at_their_canonical_words() -> None:
    licenses = {record["id"]: record["text"] for record in probes.license_probes()}
    assert licenses["license:psf-2.0"].startswith("PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2")
    assert len(licenses) == len(set(licenses))


def test_unknown_builtin_family_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown probe families \['poems'\]"):
        probes.builtin_probes(["zen", "poems"])


def test_reference_corpus_has_controls_and_repeat_counts() -> None:
    frame = pd.DataFrame(probes.reference_probes())
    assert set(frame["subset"]) == {"control", "1x", "10x", "100x"}
    assert (frame.loc[frame["subset"] == "control", "repeats"] == 0).all()
    assert set(frame["kind"]) == {"prose", "code"}


def test_user_corpus_jsonl_with_fields(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    rows = [{"doc": "a", "body": "one two", "n": 10}, {"doc": "b", "body": "three", "n": 0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    spec = probes.CorpusSpec(dataset=str(path), text_field="body", id_field="doc", repeats_field="n")
    frame = pd.DataFrame(probes.user_probes(spec))
    assert frame["id"].tolist() == ["a", "b"]
    assert frame["subset"].tolist() == ["10x", "control"]
    assert frame["repeats"].tolist() == [10, 0]


def test_user_corpus_text_file_by_paragraph_and_parquet(tmp_path: Path) -> None:
    text = tmp_path / "book.txt"
    text.write_text("First paragraph here.\n\nSecond one.\n", encoding="utf-8")
    spec = probes.CorpusSpec(dataset=str(text), sample_by="paragraph")
    assert column(probes.user_probes(spec), "id") == ["doc000001", "doc000002"]
    whole = probes.user_probes(probes.CorpusSpec(dataset=str(text)))
    assert len(whole) == 1
    parquet = tmp_path / "code.parquet"
    pd.DataFrame({"text": ["x = 1\n", "y = 2\n"], "split": ["a", "b"]}).to_parquet(parquet)
    spec = probes.CorpusSpec(dataset=str(parquet), kind="code", language="python", subset_field="split")
    documents = probes.user_probes(spec)
    assert column(documents, "language") == ["python", "python"]
    assert column(documents, "subset") == ["a", "b"]


def test_user_corpus_builder_with_data_files(tmp_path: Path) -> None:
    for index in range(2):
        (tmp_path / f"part{index}.csv").write_text(f"text\ndocument {index}\n", encoding="utf-8")
    spec = probes.CorpusSpec(dataset="csv", data_files=(str(tmp_path / "part*.csv"),))
    assert sorted(column(probes.user_probes(spec), "text")) == ["document 0", "document 1"]


def test_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        json.dumps({"text": "ok", "n": 1}) + "\n" + json.dumps({"text": "bad", "n": "many"}) + "\n"
    )
    with pytest.raises(DataError, match=r"corpus.jsonl:2: field 'n' must be a non-negative integer"):
        probes.user_probes(probes.CorpusSpec(dataset=str(path), repeats_field="n"))
    duplicate = tmp_path / "dup.jsonl"
    duplicate.write_text(
        json.dumps({"text": "a", "id": 1}) + "\n" + json.dumps({"text": "b", "id": 1}) + "\n"
    )
    with pytest.raises(DataError, match=r"dup.jsonl:2: duplicate document id '1'"):
        probes.user_probes(probes.CorpusSpec(dataset=str(duplicate), id_field="id"))


def test_unloadable_corpus_says_what_to_do() -> None:
    with pytest.raises(DataError, match=r"cannot load the probe corpus 'no/such-dataset-anywhere'.*local"):
        probes.user_probes(probes.CorpusSpec(dataset="no/such-dataset-anywhere"))


def test_chunking_keeps_the_document_as_cluster() -> None:
    documents = probes._documents(
        [probes._record("doc", " ".join(f"w{i}" for i in range(25)), "prose", "all")], "test"
    )
    chunks = probes.chunk_documents(documents, chunk_tokens=10, max_chunks=0)
    assert column(chunks, "id") == ["doc#0", "doc#1", "doc#2"]
    assert column(chunks, "document") == ["doc", "doc", "doc"]
    assert [len(word_tokens(t)) for t in column(chunks, "text")] == [10, 10, 5]
    assert len(probes.chunk_documents(documents, 10, max_chunks=2)) == 2
    assert probes.chunk_documents(documents, 0, 0) is documents
