"""The IVR's edge to the file system: scripts, the catalogue, simulation data.

Everything here reads files and hands plain values to the pure core (:mod:`load`,
:mod:`validate`, :mod:`interpreter`, :mod:`simulate`).

The catalogue a script is validated against:

- queues: the ``acd.queues`` of the configuration file;
- prompts: ``<sounds>/<language>/<name>.wav`` (what ``scripts/make-prompts`` makes);
- documents: the fax document codes. No document catalogue exists yet: callers pass the codes
  (``documents``), empty by default, until the fax-on-demand catalogue provides them;
- transfer numbers: the outside numbers scripts may transfer to, passed by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from callcenter.acd.settings import AcdSettings
from callcenter.errors import ConfigError, ConfigProblem
from callcenter.ivr.library import prompts_in
from callcenter.ivr.load import Loaded, Problem, load_text
from callcenter.ivr.simulate import Scenario
from callcenter.ivr.validate import Catalogue
from callcenter.yamlsource import YamlSourceError, load_yaml


def read_script(path: str | Path) -> Loaded:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return Loaded(None, [Problem(None, None, exc.strerror or str(exc))])
    return load_text(raw)


def catalogue_from_files(
    config: str | Path,
    sounds: str | Path,
    *,
    documents: Iterable[str] = (),
    transfer_numbers: Iterable[str] = (),
) -> Catalogue:
    """Raise :class:`ConfigError` when the configuration's ``acd`` section is unreadable."""
    return Catalogue(
        queues=_queues(str(config)),
        prompts=prompts_in(Path(sounds)),
        documents=frozenset(documents),
        transfer_numbers=frozenset(transfer_numbers),
    )


def _queues(filename: str) -> frozenset[str]:
    try:
        document = load_yaml(Path(filename).read_bytes())
    except OSError as exc:
        raise ConfigError(filename, [ConfigProblem("(file)", exc.strerror or str(exc))]) from None
    except YamlSourceError as exc:
        problem = ConfigProblem("(yaml)", str(exc), exc.line, exc.column)
        raise ConfigError(filename, [problem]) from None
    data = document.data if isinstance(document.data, dict) else {}
    try:
        acd = AcdSettings.model_validate(data.get("acd") or {})
    except ValidationError as exc:
        problems = [
            ConfigProblem(".".join(str(p) for p in ("acd", *e["loc"])), e["msg"])
            for e in exc.errors()
        ]
        raise ConfigError(filename, problems) from None
    return frozenset(acd.queues)


def read_scenario(path: str | Path | None, keys: list[str | None]) -> Scenario:
    """Simulation data: ``customers`` (a list of records with ``phone`` and ``account``) and
    ``http`` (URL -> the answer's object), from a YAML or JSON file."""
    if path is None:
        return Scenario(keys)
    data: Any = load_yaml(Path(path).read_bytes()).data
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a mapping with customers and http")
    customers = [_texts(c) for c in data.get("customers") or []]
    http = {str(url): _texts(answer) for url, answer in (data.get("http") or {}).items()}
    return Scenario(keys, customers, http, fax_ok=bool(data.get("fax_ok", True)))


def _texts(record: Any) -> dict[str, str]:
    if not isinstance(record, dict):
        raise ValueError("customer records and HTTP answers must be mappings")
    return {str(k): str(v) for k, v in record.items()}
