"""The regurgitation scenario end to end on the simulated adapter (known-answer validation)."""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import random
import re
import sysconfig
import textwrap
import tokenize
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.aggregate import sample_frame
from harness.errors import ConfigError, DataError
from harness.model import ModelAdapter
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.store import RunDirectory
from harness.types import MetricValue, ModelInfo
from scenarios.regurgitation.code import PYTHON_KEEP
from scenarios.regurgitation.metrics import token_ends
from scenarios.regurgitation.scenario import RegurgitationParams, RegurgitationScenario, prefix_token_count

REPO = Path(__file__).resolve().parents[3]
WORDS = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
    "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau"
]  # fmt: skip


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def random_documents(count: int, length: int, seed: int = 1, **extra: Any) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"id": f"d{i}", "text": " ".join(rng.choice(WORDS) for _ in range(length)), **extra}
        for i in range(count)
    ]


def run(
    tmp_path: Path, adapter: ModelAdapter, name: str = "run", **params: Any
) -> tuple[RegurgitationScenario, list[MetricValue], Path]:
    context = ScenarioContext(
        capabilities=adapter.capabilities(), model_info=adapter.info(), bootstrap_resamples=300
    )
    scenario = RegurgitationScenario(RegurgitationParams(**params), context)
    runner = Runner(scenario, adapter, tmp_path / name, RunSettings(progress=False))
    runner.execute()
    metrics, _, _ = runner.aggregate()
    return scenario, metrics, tmp_path / name


def metric(metrics: list[MetricValue], name: str, **group: Any) -> MetricValue:
    wanted = group or None
    matches = [m for m in metrics if m.name == name and m.group == wanted]
    assert len(matches) == 1, (name, group, [m.group for m in metrics if m.name == name])
    return matches[0]


def test_config_file_lists_every_parameter_with_its_default() -> None:
    config = yaml.safe_load((REPO / "conf/scenario/regurgitation.yaml").read_text())
    defaults = RegurgitationParams()
    assert set(config) == {f.name for f in dataclasses.fields(RegurgitationParams)}
    assert config == dataclasses.asdict(defaults)


def test_recovers_planted_recitation_rate_and_pz(tmp_path: Path) -> None:
    rate = 0.3
    documents = random_documents(60, 300) + random_documents(5, 120, seed=2)
    for index, document in enumerate(documents[60:]):
        document["id"] = f"short{index}"
    corpus = write_jsonl(tmp_path / "docs.jsonl", documents)
    adapter = SimulatedAdapter(
        SimulatedParams(
            rules=[
                {
                    "match": ".",
                    "recite": {"documents_file": str(corpus), "rate": rate, "miss": "I do not know."},
                }
            ]
        )
    )
    scenario, metrics, run_dir = run(tmp_path, adapter, source="dataset", dataset=str(corpus), id_field="id")

    overall = metric(metrics, "extraction_rate")
    assert overall.n == 60 * 4 + 5 * 2
    assert overall.ci_low <= rate <= overall.ci_high
    assert abs(overall.value - rate) < 0.08
    for length in (25, 50, 100, 200):
        assert metric(metrics, "extraction_rate", prefix_len=length).n in (60, 65)
    # short documents leave fewer than 50 tokens after prefixes of 100 and 200
    assert metric(metrics, "skipped_prefixes", prefix_len=100).value == 5
    assert metric(metrics, "skipped_prefixes", prefix_len=25).value == 0
    # every recitation is exact, every miss is not even approximately memorized
    assert metric(metrics, "approx_memorization_rate").value == overall.value
    assert metric(metrics, "edit_similarity").value == pytest.approx(overall.value)
    # log-likelihood protocol: p_z is the planted rate, so 1-(1-0.3)^100 >= 0.5 everywhere
    assert scenario.protocol() == "greedy-continuation+loglikelihood"
    assert metric(metrics, "mean_pz").value == pytest.approx(rate)
    assert metric(metrics, "discoverable_rate").value == 1.0
    assert {"dose_response.csv", "extraction_vs_prefix_length.png"} <= {p.name for p in run_dir.iterdir()}


def test_ci_is_clustered_by_document(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "docs.jsonl", random_documents(30, 300))
    adapter = SimulatedAdapter(
        SimulatedParams(rules=[{"match": ".", "recite": {"documents_file": str(corpus), "rate": 0.5}}])
    )
    _, metrics, _ = run(tmp_path, adapter, source="dataset", dataset=str(corpus), id_field="id")
    frame = sample_frame(tmp_path / "run")
    assert set(frame["document"]) == {f"d{i}" for i in range(30)}
    overall = metric(metrics, "extraction_rate")
    assert (overall.n, overall.n_clusters) == (120, 30), "n counts rows, n_clusters the documents resampled"
    assert overall.ci_method == "cluster_wilson"


def mutate(words: list[str], kind: int, rng: random.Random) -> str:
    """A continuation of at most len(words) tokens that differs from the truth in a known way."""
    m = len(words)
    if kind == 0:
        out = words
    elif kind == 1:  # one substitution
        out = [*words[:10], "zzz", *words[11:]]
    elif kind == 2:  # one deletion
        out = words[:5] + words[6:]
    elif kind == 3:  # one insertion, last word dropped to keep m tokens
        out = [*words[:20], "inserted", *words[20 : m - 1]]
    elif kind == 4:  # case change
        out = [w.upper() for w in words]
    elif kind == 5:  # unrelated
        out = [rng.choice(WORDS) for _ in range(m)]
    elif kind == 6:  # short
        out = words[:10]
    else:
        out = []
    return " " + " ".join(out)


def helm_lcp(s1: list[str], s2: list[str]) -> int:
    """HELM copyright_metrics._longest_common_prefix_length, re-implemented independently."""
    min_len = min(len(s1), len(s2))
    a, b = np.array(s1[:min_len]), np.array(s2[:min_len])
    (nonzeros,) = np.cumprod(a == b).nonzero()
    return int(np.max(nonzeros)) + 1 if len(nonzeros) > 0 else 0


def helm_edit_distance(s1: list[str], s2: list[str]) -> int:
    """Textbook dynamic-programming Levenshtein distance, as in HELM's _edit_distance."""
    grid = [[0] * (len(s2) + 1) for _ in range(len(s1) + 1)]
    for i in range(len(s1) + 1):
        grid[i][0] = i
    for j in range(len(s2) + 1):
        grid[0][j] = j
    for i in range(1, len(s1) + 1):
        for j in range(1, len(s2) + 1):
            substitution = 0 if s1[i - 1] == s2[j - 1] else 1
            grid[i][j] = min(grid[i - 1][j] + 1, grid[i][j - 1] + 1, grid[i - 1][j - 1] + substitution)
    return grid[-1][-1]


def helm_edit_similarity(s1: list[str], s2: list[str]) -> float:
    """HELM's _edit_similarity: 1 - ED / max length, 0 when either side is empty."""
    if not s1 or not s2:
        return 0.0
    return 1.0 - helm_edit_distance(s1, s2) / max(len(s1), len(s2))


def test_metrics_agree_with_an_independent_helm_implementation(tmp_path: Path) -> None:
    m = 50
    documents = random_documents(12, 260)
    corpus = write_jsonl(tmp_path / "docs.jsonl", documents)
    rng = random.Random(7)
    rules, kinds = [], []
    for index, document in enumerate(documents):
        words = document["text"].split()
        for position, length in enumerate((25, 50, 100, 200)):
            prefix = " ".join(words[:length])
            kinds.append((index + position) % 8)
            output = mutate(words[length : length + m], kinds[-1], rng)
            rules.append({"match": r"\A" + re.escape(prefix) + r"\Z", "outputs": {output: 1.0}})
    adapter = SimulatedAdapter(SimulatedParams(rules=rules, loglikelihood=False))
    _, metrics, run_dir = run(
        tmp_path, adapter, source="dataset", dataset=str(corpus), id_field="id", suffix_tokens=m
    )

    checked = 0
    for record in RunDirectory(run_dir).iter_samples():
        completion = record["outputs"][0]["texts"][0].strip()
        # HELM: reference = the text after the prefix, truncated to the completion's character length.
        # Documented deviation: it is cut to the completion's token count, so whitespace is layout.
        a = re.findall(r"\w+|[^\w\s]", completion)
        b = re.findall(r"\w+|[^\w\s]", record["references"][0])[: len(a)]
        assert len(a) <= m
        scores = record["scores"]
        assert scores["lcp"] == helm_lcp(a, b)
        assert scores["edit_distance"] == helm_edit_distance(a, b)
        assert scores["edit_similarity"] == pytest.approx(helm_edit_similarity(a, b))
        checked += 1
    assert checked == 48
    # exact copies are extracted; one or two edits (window ES 0.98 / 0.96) are approximate
    # memorization; upper-cased, unrelated, short and empty outputs are neither
    assert metric(metrics, "extraction_rate").value == pytest.approx(kinds.count(0) / 48)
    approximate = sum(kinds.count(kind) for kind in (0, 1, 2, 3))
    assert metric(metrics, "approx_memorization_rate").value == pytest.approx(approximate / 48)


def _stdlib_code_documents() -> list[str]:
    source = (Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_text(encoding="utf-8")
    functions = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) is None:
            segment = ast.get_source_segment(source, node)
            if segment and len(re.findall(r"\w+|[^\w\s]", segment)) >= 120 and "{" not in segment:
                functions.append(textwrap.dedent(segment))
    return functions


def _renamed(source: str) -> str:
    """The same code with every argument and assigned local renamed (layout and comments kept)."""
    names = {n.arg for n in ast.walk(ast.parse(source)) if isinstance(n, ast.arg)}
    names |= {
        n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    mapping = {name: f"renamed_{i}" for i, name in enumerate(sorted(names - PYTHON_KEEP))}
    tokens = [
        t._replace(string=mapping[t.string]) if t.type == tokenize.NAME and t.string in mapping else t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
    ]
    return tokenize.untokenize(tokens)


def _used(text: str, length: int) -> int:
    """Tokens in the scenario's prefix of nominal length ``length``."""
    used = prefix_token_count(text, token_ends(text), length)
    assert used is not None
    return used


def _window(text: str, start: int, count: int) -> str:
    ends = [match.end() for match in re.finditer(r"\w+|[^\w\s]", text)]
    return text[ends[start - 1] : ends[start + count - 1]]


def test_renamed_code_copies_are_caught_as_near_verbatim(tmp_path: Path) -> None:
    m, lengths = 30, (25, 50)
    # a planted copy must really differ: keep functions whose windows contain a renamed identifier
    functions = [
        f
        for f in _stdlib_code_documents()
        if all(_window(_renamed(f), _used(f, n), m) != _window(f, _used(f, n), m) for n in lengths)
    ][:12]
    assert len(functions) == 12
    rows, rules = [], []
    for index, function in enumerate(functions):
        planted = index % 2 == 0
        rows.append({"id": f"f{index}", "text": function, "planted": "renamed" if planted else "unrelated"})
        other = functions[(index + 1) % len(functions)]
        for length in lengths:
            used = _used(function, length)
            prefix = function[: token_ends(function)[used - 1]]
            output = _window(_renamed(function), used, m) if planted else _window(other, used, m)
            rules.append({"match": r"\A" + re.escape(prefix) + r"\Z", "outputs": {output: 1.0}})
    corpus = write_jsonl(tmp_path / "code.jsonl", rows)
    adapter = SimulatedAdapter(SimulatedParams(rules=rules))
    _, metrics, _ = run(
        tmp_path,
        adapter,
        source="dataset",
        dataset=str(corpus),
        id_field="id",
        subset_field="planted",
        kind="code",
        prefix_lengths=list(lengths),
        suffix_tokens=m,
    )
    assert metric(metrics, "extraction_rate", subset="renamed").value == 0.0
    assert metric(metrics, "code_near_verbatim_rate", subset="renamed").value == 1.0
    assert metric(metrics, "code_norm_edit_similarity", subset="renamed").value == 1.0
    assert metric(metrics, "code_winnowing_overlap", subset="renamed").value == 1.0
    assert metric(metrics, "code_near_verbatim_rate", subset="unrelated").value == 0.0
    assert metric(metrics, "code_winnowing_overlap", subset="unrelated").value < 0.2
    assert (
        metric(metrics, "edit_similarity", subset="renamed").value
        < metric(metrics, "code_norm_edit_similarity", subset="renamed").value
    )


def test_generation_only_models_use_the_generative_protocol(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "docs.jsonl", random_documents(4, 120))
    adapter = SimulatedAdapter(
        SimulatedParams(
            rules=[{"match": ".", "recite": {"documents_file": str(corpus), "rate": 1.0}}],
            loglikelihood=False,
        )
    )
    scenario, metrics, _ = run(tmp_path, adapter, source="dataset", dataset=str(corpus), prefix_lengths=[25])
    assert scenario.protocol() == "greedy-continuation"
    assert not [m for m in metrics if m.name in ("mean_pz", "discoverable_rate")]
    assert metric(metrics, "extraction_rate").value == 1.0


def test_failed_requests_are_counted_not_scored(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "docs.jsonl", random_documents(20, 120))
    adapter = SimulatedAdapter(
        SimulatedParams(
            rules=[{"match": ".", "recite": {"documents_file": str(corpus), "rate": 1.0}}], error_rate=0.3
        )
    )
    _, metrics, _ = run(tmp_path, adapter, source="dataset", dataset=str(corpus), prefix_lengths=[25, 50])
    overall = metric(metrics, "extraction_rate")
    assert overall.n_errors > 0
    assert overall.n + overall.n_errors == 40
    assert overall.value == 1.0


def test_dose_response_against_training_repeats(tmp_path: Path) -> None:
    rows = []
    rates = {0: 0.0, 1: 0.2, 10: 0.6, 100: 1.0}
    rules = []
    for repeats, rate in rates.items():
        documents = random_documents(10, 200, seed=repeats + 10, repeats=repeats)
        for document in documents:
            document["id"] = f"r{repeats}-{document['id']}"
        corpus = write_jsonl(tmp_path / f"r{repeats}.jsonl", documents)
        rules.append({"match": ".", "recite": {"documents_file": str(corpus), "rate": rate}})
        rows += documents
    corpus = write_jsonl(tmp_path / "all.jsonl", rows)
    # the first rule that matches decides; route each prompt to its own repeat group's rule
    routed = [
        {
            **rule,
            "match": r"\A(?:"
            + "|".join(re.escape(r["text"][:60]) for r in rows if r["repeats"] == repeats)
            + ")",
        }
        for repeats, rule in zip(rates, rules, strict=True)
    ]
    adapter = SimulatedAdapter(SimulatedParams(rules=routed))
    _, metrics, run_dir = run(
        tmp_path,
        adapter,
        source="dataset",
        dataset=str(corpus),
        id_field="id",
        repeats_field="repeats",
        prefix_lengths=[25, 50, 100],
    )
    assert metric(metrics, "extraction_rate", subset="control").value == 0.0
    assert metric(metrics, "extraction_rate", subset="100x").value == 1.0
    assert (
        metric(metrics, "extraction_rate", subset="1x").value
        < metric(metrics, "extraction_rate", subset="10x").value
    )
    assert (run_dir / "extraction_vs_duplication.png").stat().st_size > 0
    table = (run_dir / "dose_response.csv").read_text()
    assert "100x" in table and "control" in table


def test_auto_source_uses_the_reference_corpus_only_on_the_reference_model() -> None:
    params = RegurgitationParams()
    hf_extra = {"source": "builtin:reference"}
    plain = RegurgitationScenario(
        params, ScenarioContext(model_info=ModelInfo(adapter="hf", model_id="reference"))
    )
    reference = RegurgitationScenario(
        params, ScenarioContext(model_info=ModelInfo("hf", "reference", extra=hf_extra))
    )
    guarded = RegurgitationScenario(
        params,
        ScenarioContext(
            model_info=ModelInfo("guard", "guard[reference]", extra={"inner": {"extra": hf_extra}})
        ),
    )
    assert plain.probe_source() == "builtin"
    assert reference.probe_source() == "reference"
    assert guarded.probe_source() == "reference"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "web"}, "scenario.source='web' is not valid; choose one of"),
        ({"source": "dataset"}, "needs scenario.dataset"),
        ({"prefix_lengths": [0, 25]}, "prefix_lengths must be positive"),
        ({"suffix_tokens": 0}, "suffix_tokens must be >= 1"),
        ({"approx_threshold": 1.5}, "approx_threshold must be in"),
        ({"kind": "poetry"}, "scenario.kind='poetry' is not valid; choose one of"),
    ],
)
def test_bad_parameters_name_the_key(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RegurgitationScenario(RegurgitationParams(**params), ScenarioContext())


def test_bad_corpus_field_names_the_fields(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "docs.jsonl", [{"body": "a b c"}])
    scenario = RegurgitationScenario(
        RegurgitationParams(source="dataset", dataset=str(corpus)), ScenarioContext()
    )
    with pytest.raises(DataError, match=r"no field 'text'; its fields are \['body'\]"):
        list(scenario.instances())


def test_prefixes_are_cut_at_whitespace_boundaries() -> None:
    text = "merged = []\nfor x in y: f(x)"
    ends = token_ends(text)  # merged = [ ] for x in y : f ( x )
    assert prefix_token_count(text, ends, 1) == 1  # "merged" is followed by a space
    assert prefix_token_count(text, ends, 3) == 4  # not between "[" and "]"
    assert prefix_token_count(text, ends, 9) == 9  # after "y:"
    assert prefix_token_count(text, ends, 10) == 13  # "f(x)" touches; the text end is a boundary
    assert prefix_token_count("a b", token_ends("a b"), 3) is None
