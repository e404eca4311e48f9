"""The ``replay`` adapter: serve outputs recorded elsewhere, so they can be scored here.

Records come from a JSONL, CSV or parquet file, or a Hub dataset, through ``datasets``. Each
record has a key (the instance id, or the prompt text) and an output: a string, or a list of
strings for k samples. A request whose key has no record is an error that lists the missing
keys; a record without the key or output field is an error that names the file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import AdapterError, DataError
from harness.jsonl import read_jsonl
from harness.model import AdapterParams, ModelAdapter, ProgressCallback
from harness.types import Capability, Completion, ModelInfo, Request, prompt_text, stable_hash

LOADERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
MAX_LISTED = 20


@dataclass
class ReplayParams(AdapterParams):
    """Parameters of the replay adapter."""

    name: str = "replay"
    path: str = ""
    key: str = "id"
    key_field: str | None = None
    output_field: str = "output"
    split: str = "train"


def _validate_jsonl(path: Path, key_field: str, output_field: str) -> None:
    """Check every line of a local JSONL file so errors can name the line (datasets cannot)."""
    for _ in read_jsonl(
        path,
        (key_field, output_field),
        hint="set model.key_field / model.output_field to the right columns",
    ):
        pass


def load_records(params: ReplayParams) -> dict[str, list[str]]:
    """key -> recorded outputs, loaded through ``datasets`` from a file or Hub dataset."""
    from datasets import load_dataset

    if params.key not in ("id", "prompt"):
        raise AdapterError(f"model.key must be 'id' or 'prompt', got {params.key!r}")
    key_field = params.key_field or params.key
    path = Path(params.path).expanduser()
    if not params.path:
        raise AdapterError(
            "model.path is required: the file (JSONL, CSV, parquet) or Hub dataset of recorded outputs"
        )
    if path.exists():
        loader = LOADERS.get(path.suffix.lower())
        if loader is None:
            raise AdapterError(f"model.path: {path} must end in one of {sorted(LOADERS)}")
        if path.suffix.lower() == ".jsonl":
            _validate_jsonl(path, key_field, params.output_field)
        try:
            dataset = load_dataset(loader, data_files=str(path), split="train")
        except Exception as exc:  # datasets raises many types for malformed files
            raise DataError(
                f"cannot read recorded outputs: {type(exc).__name__}: {exc}", path=str(path)
            ) from exc
    elif "/" in params.path and not params.path.startswith((".", "/")):
        try:
            dataset = load_dataset(params.path, split=params.split)
        except Exception as exc:
            raise AdapterError(
                f"model.path: cannot load Hub dataset {params.path!r} ({type(exc).__name__}); "
                "it is not a local "
                "file and the Hub is unreachable or the name is wrong"
            ) from exc
    else:
        raise AdapterError(f"model.path: {params.path} does not exist")
    missing = [c for c in (key_field, params.output_field) if c not in dataset.column_names]
    if missing:
        raise DataError(f"missing column(s) {missing}; columns are {dataset.column_names}", path=params.path)
    records: dict[str, list[str]] = {}
    for row_number, row in enumerate(dataset, start=1):
        output = row[params.output_field]
        if output is None:
            raise DataError(f"row {row_number}: empty {params.output_field!r}", path=params.path)
        outputs = [str(o) for o in output] if isinstance(output, list) else [str(output)]
        records[str(row[key_field])] = outputs
    return records


class ReplayAdapter(ModelAdapter):
    """Serves recorded outputs keyed by instance id or by prompt (see the module docstring)."""

    Params = ReplayParams
    cacheable = False
    pipelined = False  # answers are looked up in Python: nothing to overlap

    def __init__(self, params: ReplayParams) -> None:
        super().__init__(params)
        self.params: ReplayParams = params
        self.records = load_records(params)
        self._fingerprint = stable_hash(sorted(self.records.items()))
        self.deduplicate = params.key == "prompt"

    def capabilities(self) -> frozenset[Capability]:
        """Recorded text can answer generation requests, chat or not; there are no log-probs."""
        return frozenset({Capability.GENERATE, Capability.CHAT})

    def info(self) -> ModelInfo:
        """The recorded file is the model: its content hash is the weights hash."""
        return ModelInfo(
            adapter="replay",
            model_id=self.params.name,
            weights_hash=self._fingerprint,
            extra={"path": self.params.path, "key": self.params.key, "n_records": len(self.records)},
        )

    def _key(self, request: Request) -> str:
        if self.params.key == "id":
            if request.instance_id is None:
                raise AdapterError("replay by id needs requests that carry their instance id")
            return request.instance_id
        return prompt_text(request.prompt)

    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """The recorded outputs for each request; missing keys raise one error listing them."""
        missing = sorted({self._key(r) for r in requests if self._key(r) not in self.records})
        if missing:
            shown = ", ".join(repr(k[:80]) for k in missing[:MAX_LISTED])
            more = f" and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
            raise DataError(
                f"no recorded output for {len(missing)} {self.params.key} key(s): {shown}{more}. "
                f"Record outputs for them or evaluate fewer instances (limit=...)",
                path=self.params.path,
            )
        results = []
        for request in requests:
            outputs = self.records[self._key(request)]
            if len(outputs) < request.params.n:
                results.append(
                    Completion.failed(
                        f"{len(outputs)} recorded output(s) for {self._key(request)!r}, "
                        f"but {request.params.n} requested"
                    )
                )
            else:
                results.append(Completion(texts=outputs[: request.params.n]))
        if progress:
            progress(len(requests))
        return results
