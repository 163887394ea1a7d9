"""One reader per raw format. Each yields `(where, row)` pairs; `where` locates the row for messages.

Problems with the file as a whole (unreadable, wrong overall shape) raise `DataError` at once.
Problems with a single row are *yielded* in place of the row, as a `DataError`, so that the
loader can either stop on it or, with `skip_invalid`, record it and read on.
Record indices in `where` are 0-based, as in the source's own indexing (`data[0]`, `ds[9]`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lorabench.data.spec import DataSpec, slice_range
from lorabench.core.errors import DataError

Row = dict[str, Any]
RawRow = tuple[str, "Row | DataError"]


def _decode(path: Path, data: bytes) -> str:
    """Strict UTF-8 (a BOM is allowed); a bad byte is reported with its line, not just an offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}", f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc


def read_bytes(path: Path) -> bytes:
    """The file's bytes; an empty or whitespace-only file is an error, never an empty data set."""
    if not path.exists():
        raise DataError(str(path), "no such file or folder")
    data = path.read_bytes()
    if not data.strip():
        raise DataError(str(path), "file is empty")
    return data


def load_json(path: Path) -> Any:
    """A whole JSON document, with the line and column of any syntax error."""
    text = _decode(path, read_bytes(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}", f"malformed JSON: {exc.msg} (column {exc.colno})") from exc


def read_jsonl(path: Path) -> Iterator[RawRow]:
    """JSON Lines: one object per line; blank lines are skipped; `where` is `file:line` (1-based)."""
    read_bytes(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            # Each line is decoded on its own so one bad byte names its line and spares the rest.
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield where, DataError(where, f"not valid UTF-8 ({exc.reason} at byte {exc.start} of the line)")
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield where, DataError(where, f"malformed JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(row, dict):
                yield where, DataError(where, f"expected a JSON object, got {type(row).__name__}")
                continue
            yield where, row


def read_json_records(path: Path, document: Any | None = None) -> Iterator[RawRow]:
    """A JSON list of objects, or an object whose `data` is such a list; `where` is `file: record i`."""
    document = load_json(path) if document is None else document
    rows = document.get("data") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise DataError(str(path), "expected a JSON list of objects (or an object with a 'data' list)")
    for index, row in enumerate(rows):
        where = f"{path}: record {index}"
        if isinstance(row, dict):
            yield where, row
        else:
            yield where, DataError(where, f"expected a JSON object, got {type(row).__name__}")


def is_squad(document: Any) -> bool:
    """True for SQuAD's shape: `{"data": [{"paragraphs": [...]}, ...]}`."""
    data = document.get("data") if isinstance(document, dict) else None
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "paragraphs" in data[0]


def _list_at(container: Any, key: str, where: str) -> list[Any]:
    value = container.get(key) if isinstance(container, dict) else None
    if not isinstance(value, list):
        raise DataError(where, f"expected a '{key}' list")
    return value


def read_squad(path: Path, document: Any | None = None) -> Iterator[RawRow]:
    """SQuAD v1.1 / v2.0 JSON. Rows carry record field names; v2 `is_impossible` -> `unanswerable`."""
    document = load_json(path) if document is None else document
    for a, article in enumerate(_list_at(document, "data", str(path))):
        paragraphs = _list_at(article, "paragraphs", f"{path}: data[{a}]")
        for p, paragraph in enumerate(paragraphs):
            qas = _list_at(paragraph, "qas", f"{path}: data[{a}].paragraphs[{p}]")
            for q, qa in enumerate(qas):
                where = f"{path}: data[{a}].paragraphs[{p}].qas[{q}]"
                if not isinstance(qa, dict):
                    yield where, DataError(where, f"expected a JSON object, got {type(qa).__name__}")
                    continue
                impossible = bool(qa.get("is_impossible", False))
                texts = [ans.get("text") if isinstance(ans, dict) else ans for ans in qa.get("answers") or []]
                row: Row = {
                    "id": qa.get("id"),
                    "title": article.get("title"),
                    "context": paragraph.get("context"),
                    "question": qa.get("question"),
                    # Dev sets repeat an answer once per annotator; one copy scores the same.
                    "answers": [] if impossible else list(dict.fromkeys(texts)),
                    "unanswerable": impossible,
                }
                yield where, row


def json_cell(value: Any) -> Any:
    """A list or object given as JSON text, parsed; any other value as it is.

    CSV cells cannot hold lists, so lists (answers, options, chat messages) arrive as JSON text.
    """
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def read_csv(path: Path) -> Iterator[RawRow]:
    """CSV with a header row; `where` is the physical line where the row starts (quoted newlines count)."""
    text = _decode(path, read_bytes(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(name.strip() for name in header):
        raise DataError(f"{path}:1", "expected a header row naming the columns")
    header = [name.strip() for name in header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DataError(f"{path}:1", f"the header repeats column(s) {', '.join(map(repr, duplicated))}")
    line = reader.line_num + 1
    for values in reader:
        where = f"{path}:{line}"
        line = reader.line_num + 1
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield where, DataError(where, f"expected {len(header)} columns as in the header, found {len(values)}")
            continue
        yield where, dict(zip(header, values))


def read_parquet(path: Path) -> Iterator[RawRow]:
    """Parquet, streamed in batches so large files do not need to fit in memory twice."""
    import pyarrow.parquet as pq

    read_bytes(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DataError(str(path), f"not a readable Parquet file: {exc}") from exc
    index = 0
    for batch in parquet.iter_batches():
        for row in batch.to_pylist():
            yield f"{path}: record {index}", row
            index += 1


def _natural_key(path: Path) -> list[Any]:
    # qa_2.json sorts before qa_10.json, as a person numbering files expects.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def read_qa_folder(folder: Path) -> Iterator[RawRow]:
    """Every `qa_*.json` in `folder`, each `{"qa_pairs": [...]}`; a pair without an id gets `<stem>-<index>`."""
    if not folder.is_dir():
        raise DataError(str(folder), "expected a folder of qa_*.json files")
    files = sorted(folder.glob("qa_*.json"), key=_natural_key)
    if not files:
        raise DataError(str(folder), "no qa_*.json files in this folder")
    for file in files:
        pairs = _list_at(load_json(file), "qa_pairs", str(file))
        for index, pair in enumerate(pairs):
            where = f"{file}: qa_pairs[{index}]"
            if not isinstance(pair, dict):
                yield where, DataError(where, f"expected a JSON object, got {type(pair).__name__}")
                continue
            yield where, {"id": f"{file.stem}-{index}", **{k: v for k, v in pair.items() if v is not None}}


def _split_and_slice(split: str) -> tuple[str, str | None]:
    match = re.fullmatch(r"\s*([\w.-]+)\s*(\[.*\])?\s*", split)
    if not match:
        raise DataError(f"split {split!r}", "expected a split name, optionally sliced: 'train[:1000]'")
    return match.group(1), match.group(2)


def _load_hf(name: str, config: str | None, split: str) -> Any:
    import datasets

    where = f"hf:{name}/{split}"
    local = Path(name)
    try:
        markers = ("dataset_info.json", "dataset_dict.json", "state.json")
        if local.is_dir() and any((local / marker).exists() for marker in markers):
            # A folder from save_to_disk: load_dataset refuses these, so slice the split by hand.
            loaded = datasets.load_from_disk(str(local))
            split_name, bracket = _split_and_slice(split)
            if isinstance(loaded, datasets.DatasetDict):
                if split_name not in loaded:
                    raise DataError(where, f"no split {split_name!r}; available: {', '.join(loaded)}")
                loaded = loaded[split_name]
            return loaded.select(slice_range(bracket, len(loaded))) if bracket else loaded
        return datasets.load_dataset(name, config, split=split)
    except DataError:
        raise
    except Exception as exc:  # network, missing dataset, bad split: all are the user's to fix
        raise DataError(where, f"could not load the dataset: {exc}") from exc


def read_hf(name: str, config: str | None, split: str) -> Iterator[RawRow]:
    """A Hugging Face dataset split (HF slicing such as 'train[:1000]' is honoured)."""
    dataset = _load_hf(name, config, split)
    for index, row in enumerate(dataset):
        yield f"hf:{name}/{split}: record {index}", dict(row)


def _sniff_json(path: Path) -> tuple[str, Any]:
    """'squad', 'json' or 'jsonl' for a .json file, with the parsed document so it is read once."""
    try:
        document = load_json(path)
    except DataError as exc:
        # Many '.json' files on the hub are really JSON Lines: a first object, then 'extra data'.
        if "Extra data" in exc.reason:
            return "jsonl", None
        raise
    return ("squad" if is_squad(document) else "json"), document


def detect_format(path: Path) -> str:
    """Guess the format from the extension, and for .json from the document's shape."""
    if path.is_dir():
        return "qa_folder"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".parquet"):
        return suffix[1:]
    if suffix == ".json":
        return _sniff_json(path)[0]
    read_bytes(path)  # a missing file says so rather than 'unknown extension'
    raise DataError(str(path), f"cannot tell the format of a '{suffix}' file; set format: jsonl, json, csv or parquet")


def read_source(spec: DataSpec) -> Iterator[RawRow]:
    """The raw rows of whatever `spec` points at, with the format detected when it is 'auto'."""
    if spec.hf is not None:
        return read_hf(spec.hf, spec.hf_config, spec.split)
    path = Path(spec.path)  # type: ignore[arg-type]  # the spec guarantees one of path/hf
    if not path.exists():
        raise DataError(str(path), "no such file or folder")
    fmt, document = spec.format, None
    if fmt == "auto":
        fmt, document = _sniff_json(path) if path.is_file() and path.suffix.lower() == ".json" else (
            detect_format(path), None)
    if fmt in ("jsonl", "gsm8k"):
        return read_jsonl(path)
    if fmt == "csv":
        return read_csv(path)
    if fmt == "parquet":
        return read_parquet(path)
    if fmt == "qa_folder":
        return read_qa_folder(path)
    document = load_json(path) if document is None else document
    # A SQuAD-shaped document can never hold flat records, so 'json' reads it as SQuAD too.
    if fmt == "squad" or is_squad(document):
        return read_squad(path, document)
    return read_json_records(path, document)
