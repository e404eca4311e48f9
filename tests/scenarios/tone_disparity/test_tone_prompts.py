"""Prompt sources: the embedded counterfactual tuples, the user's own tables, BOLD, and bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import DataError
from scenarios.tone_disparity import prompts


def test_embedded_tuples_change_only_the_demographic_terms() -> None:
    instances = list(prompts.counterfactual_tuples(prompts.DEFAULT_TEMPLATES, prompts.DEFAULT_TERMS))
    assert len(instances) == 24 * 8 * 2
    by_tuple: dict[str, dict[str, str]] = {}
    for instance in instances:
        by_tuple.setdefault(instance.metadata["tuple"], {})[instance.metadata["group"]] = instance.input
    assert len(by_tuple) == 192 and all(set(m) == {"female", "male"} for m in by_tuple.values())
    genres = {i.metadata["genre"] for i in instances}
    assert genres == {"reference_letter", "biography", "performance_review", "short_story"}
    names = {i.metadata["group"]: set() for i in instances}
    for instance in instances:
        names[instance.metadata["group"]].add(instance.metadata["term"])
    swap = {("she", "he"), ("her", "his"), ("her", "him"), ("woman", "man"), ("She", "He"), ("Her", "His")}
    for members in by_tuple.values():
        female, male = members["female"].split(), members["male"].split()
        assert len(female) == len(male)
        changed = [(f.rstrip(",."), m.rstrip(",.")) for f, m in zip(female, male, strict=True) if f != m]
        assert changed
        for f, m in changed:
            assert (f, m) in swap or (f in names["female"] and m in names["male"]), (f, m)


def test_user_csv_and_jsonl_tables_build_tuples(tmp_path: Path) -> None:
    templates = tmp_path / "t.csv"
    templates.write_text('id,genre,text\nbio,biography,"{Name} is a {noun}, and {pronoun} is"\n')
    terms = tmp_path / "terms.jsonl"
    rows = [
        {"set": "a", "group": "older", "name": "grandpa Joe", "noun": "retiree", "pronoun": "he"},
        {"set": "a", "group": "younger", "name": "young Joe", "noun": "student", "pronoun": "he"},
    ]
    terms.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    instances = list(prompts.counterfactual_tuples(templates, terms))
    assert [i.input for i in instances] == [
        "Grandpa Joe is a retiree, and he is",
        "Young Joe is a student, and he is",
    ]
    assert {i.metadata["tuple"] for i in instances} == {"bio|a"}


@pytest.mark.parametrize(
    ("templates", "terms", "message"),
    [
        (
            'id,genre,text\nt1,bio,"{name} is"\nt2,bio\n',
            "set,group,name\n1,a,X\n1,b,Y\n",
            "t.csv:3: expected 3 fields",
        ),
        (
            'id,genre,text\nt1,bio,"{name} is"\nt1,bio,"{name} was"\n',
            "set,group,name\n1,a,X\n1,b,Y\n",
            "t.csv:3: duplicate",
        ),
        (
            'id,genre,text\nt1,bio,"{nam} is"\n',
            "set,group,name\n1,a,X\n1,b,Y\n",
            "t.csv:2: template 't1' uses {nam}",
        ),
        (
            'id,genre,text\nt1,bio,"no slot"\n',
            "set,group,name\n1,a,X\n1,b,Y\n",
            "t.csv:2: text needs placeholders",
        ),
        (
            'id,genre,text\nt1,bio,"{name} is"\n',
            "set,group,name\n1,a,X\n1,b,Y\n2,a,Z\n",
            "s.csv:4: set '2' names groups",
        ),
        (
            'id,genre,text\nt1,bio,"{name} is"\n',
            "set,group,name\n1,a,X\n1,a,Y\n",
            "s.csv:3: set '1' names group 'a' twice",
        ),
        ('id,genre,text\nt1,bio,"{name} is"\n', "set,name\n1,X\n", "s.csv:1: missing column(s) ['group']"),
        (
            'id,genre,text\nt1,bio,"{name} is kind and {subject} is"\n',
            "set,group,name,subject\n1,a,X,she\n1,b,,he\n",
            "s.csv:3: column 'name' is empty",
        ),
        (
            'id,genre,text\nt1,bio,"{name} is"\n',
            "set,group,name\n1,a,X\n1,b,  \n",
            "s.csv:3: column 'name' is empty",
        ),
        ('id,genre,text\nt1,bio,"{name} is"\n', "set,group,name\n1,a,X\n", "one group (a)"),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path: Path, templates: str, terms: str, message: str) -> None:
    (tmp_path / "t.csv").write_text(templates)
    (tmp_path / "s.csv").write_text(terms)
    with pytest.raises(DataError) as caught:
        list(prompts.counterfactual_tuples(tmp_path / "t.csv", tmp_path / "s.csv"))
    assert message in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_a_malformed_jsonl_template_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "a", "genre": "g", "text": "{name} is"}\n{"id": "b", "genre": "g"}\n')
    with pytest.raises(DataError, match=r"t\.jsonl:2: missing field 'text'"):
        prompts.load_templates(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "column 'name' is empty"),
        (" ", "column 'name' is empty"),
        (None, "column 'name' must be a term (a string), not None"),
    ],
)
def test_an_empty_jsonl_term_names_its_line_and_column(tmp_path: Path, value: object, message: str) -> None:
    templates = tmp_path / "t.jsonl"
    templates.write_text(json.dumps({"id": "t1", "genre": "bio", "text": "{name} is kind"}) + "\n")
    terms = tmp_path / "s.jsonl"
    rows = [{"set": "1", "group": "a", "name": "X"}, {"set": "1", "group": "b", "name": value}]
    terms.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError) as caught:
        list(prompts.counterfactual_tuples(templates, terms))
    assert str(caught.value).startswith(f"{terms}:2: {message}")
    assert len(str(caught.value).splitlines()) == 1


def test_bold_prompts_are_unpaired_and_clustered_by_person(shared_datasets: Path) -> None:
    instances = list(prompts.bold_prompts(str(shared_datasets / "bold" / "gender_prompt.json"), "train"))
    groups = {i.metadata["group"] for i in instances}
    assert groups == {"American_actors", "American_actresses"}
    assert len({i.metadata["tuple"] for i in instances}) == len(instances)
    first = instances[0]
    assert first.metadata["template"] == f"gender/{first.metadata['term']}"
    assert first.metadata["term"].split("_")[0] in first.input
