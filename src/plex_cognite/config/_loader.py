"""Reading settings: YAML with `${VAR}` substitution, sources merged by pydantic-settings, readable errors."""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import types
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin

import pydantic
import yaml
from dotenv import dotenv_values
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from pydantic_settings.exceptions import SettingsError

from plex_cognite.errors import ConfigurationError

__all__ = ["YamlSource", "format_validation_error", "load", "loading", "loading_in_progress", "substitute_env"]

SettingsT = TypeVar("SettingsT", bound=BaseSettings)

#: The YAML mapping of the `load` call in progress (read by `YamlSource`).
_YAML_DATA: ContextVar[Mapping[str, Any] | None] = ContextVar("plex_cognite_yaml_data", default=None)

_REFERENCE = re.compile(r"\$(?P<escape>\$)?\{(?P<body>[^}]*)\}")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>.*))?", re.DOTALL)
_SECRET_KEY = re.compile(r"api_?key|secret|password|token|authorization|username", re.IGNORECASE)
_SCALARS = (str, int, float, bool, type(None))


class YamlSource(PydanticBaseSettingsSource):
    """Settings source with the lowest priority: the (already substituted) YAML file being loaded."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` hands over the whole mapping at once."""
        data = _YAML_DATA.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        """Return a copy of the YAML mapping of the load in progress, or nothing."""
        return dict(_YAML_DATA.get() or {})


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} appears twice (first on line {seen[key] + 1}); keep one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _format_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def substitute_env(
    value: Any, lookup: Mapping[str, str | None], loc: tuple[int | str, ...] = ()
) -> tuple[Any, list[tuple[str, str]]]:
    """Replace `${VAR}`, `${VAR:-default}` and `${VAR-default}` in every string of a parsed YAML tree.

    `$${VAR}` stays as the literal text `${VAR}`. A string that is exactly one reference and expands to the empty
    string becomes None (not set), so `token: ${CDF_TOKEN:-}` leaves the token unset.

    Args:
        value: The parsed YAML value.
        lookup: Where variables are looked up.
        loc: The YAML path of `value`.

    Returns:
        The substituted tree, and a list of (YAML path, problem) for unset variables or malformed references.
    """
    problems: list[tuple[str, str]] = []
    if isinstance(value, dict):
        result: dict[Any, Any] = {}
        for key, item in value.items():
            result[key], found = substitute_env(item, lookup, (*loc, str(key)))
            problems.extend(found)
        return result, problems
    if isinstance(value, list):
        items: list[Any] = []
        for index, item in enumerate(value):
            new, found = substitute_env(item, lookup, (*loc, index))
            items.append(new)
            problems.extend(found)
        return items, problems
    if not isinstance(value, str) or "${" not in value:
        return value, problems

    def replace(match: re.Match[str]) -> str:
        if match.group("escape"):
            return "${" + match.group("body") + "}"
        body = _BODY.fullmatch(match.group("body"))
        if body is None:
            problems.append((_format_path(loc), f"malformed reference {match.group(0)!r}; write ${{NAME}}"))
            return ""
        name, op, default = body.group("name", "op", "default")
        current = lookup.get(name)
        if current is None or (op == ":-" and current == ""):
            if op is not None:
                return str(default)
            problems.append(
                (
                    _format_path(loc),
                    f"environment variable {name} is not set; export {name}=... (or put it in .env), "
                    f"or give a default: ${{{name}:-value}}",
                )
            )
            return ""
        return current

    substituted = _REFERENCE.sub(replace, value)
    whole = _REFERENCE.fullmatch(value)
    if whole is not None and not whole.group("escape") and substituted == "":
        return None, problems
    return substituted, problems


def _model_at(root: type[pydantic.BaseModel], loc: tuple[int | str, ...]) -> type[pydantic.BaseModel] | None:
    """The model class that holds the last element of `loc` (None when `loc` leaves the models)."""
    model: type[pydantic.BaseModel] | None = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        field = _field_named(model, part)
        model = _model_in(field.annotation) if field is not None else None
    return model


def _field_named(model: type[pydantic.BaseModel], key: str) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if key == name or key in _aliases(field):
            return field
    return None


def _aliases(field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, pydantic.AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return []


def _model_in(annotation: Any) -> type[pydantic.BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _known_keys(model: type[pydantic.BaseModel]) -> list[str]:
    keys: list[str] = []
    for name, field in model.model_fields.items():
        keys.extend(alias for alias in [*_aliases(field), name] if alias not in keys)
    return keys


def _env_name(loc: tuple[int | str, ...]) -> str | None:
    if any(isinstance(part, int) for part in loc):
        return None
    return "PLEX_COGNITE_" + "__".join(str(part).upper() for part in loc)


def _describe(root: type[pydantic.BaseModel], error: Mapping[str, Any], env: Mapping[str, str | None]) -> str:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    kind: str = error["type"]
    message: str = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    key = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        model = _model_at(root, loc)
        known = _known_keys(model) if model is not None else []
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        if close:
            return f"unknown setting '{key}'; did you mean '{close[0]}'?"
        choices = f" (known here: {', '.join(known)})" if known else ""
        return f"unknown setting '{key}'; remove it{choices}"
    if kind == "missing":
        env_name = _env_name(loc)
        via_env = f" or set {env_name}" if env_name else ""
        return f"required setting is missing; add it to the config file{via_env}"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        given = error.get("input")
        close = difflib.get_close_matches(str(given), expected, n=1, cutoff=0.5) if isinstance(given, str) else []
        hint = f"; did you mean '{close[0]}'?" if close else ""
        shown = f"{given!r} is not allowed" if isinstance(given, _SCALARS) else "value is not allowed"
        return f"{shown}; use one of {', '.join(expected)}{hint}"
    text = message[:1].lower() + message[1:] if message[1:2].islower() else message
    given = error.get("input")
    secret = any(_SECRET_KEY.search(str(part)) for part in loc if isinstance(part, str))
    if kind not in ("value_error", "assertion_error") and not secret and isinstance(given, _SCALARS):
        shown = repr(given) if len(repr(given)) <= 60 else repr(given)[:57] + "..."
        text += f" (got {shown})"
    env_name = _env_name(loc)
    if env_name is not None and loc and env.get(env_name) is not None:
        text += f" (from environment variable {env_name})"
    return text


def format_validation_error(
    root: type[pydantic.BaseModel], exc: pydantic.ValidationError, *, source: str, env: Mapping[str, str | None]
) -> ConfigurationError:
    """Turn a pydantic error into a ConfigurationError: one `path: problem; fix` line per problem.

    Input values are shown only for non-secret scalar settings, so secrets can never reach the message.
    """
    lines: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False, include_input=True):
        line = (_format_path(tuple(error["loc"])), _describe(root, error, env))
        if line not in lines:
            lines.append(line)
    return _problems_error(lines, source=source)


def _problems_error(lines: list[tuple[str, str]], *, source: str) -> ConfigurationError:
    if len(lines) == 1:
        path, problem = lines[0]
        return ConfigurationError(f"{source}: {path}: {problem}", field=path)
    body = "\n".join(f"  {path}: {problem}" for path, problem in lines)
    return ConfigurationError(f"{source}: {len(lines)} problems\n{body}", field=lines[0][0] if lines else None)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: config file not found; check the path", field=None) from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigurationError(f"{path}: {where}invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"{path}: the file must be a mapping of sections (plex:, cdf:, extraction:), not a {type(data).__name__}"
        )
    return data


def loading_in_progress() -> bool:
    """True inside `loading()`: the YAML source is set up and errors are being translated."""
    return _YAML_DATA.get() is not None


@contextlib.contextmanager
def loading(
    settings_cls: type[pydantic.BaseModel], path: str | Path | None, *, env_file: str | Path | None
) -> Iterator[Path | None]:
    """Prepare every settings source for one validation, and turn its errors into `ConfigurationError`s.

    Reads `.env` (if `env_file` exists), finds the YAML file (`path`, else `PLEX_COGNITE_CONFIG`), substitutes
    `${VAR}` in it and hands it to `YamlSource`. The body validates the settings (`settings_cls(...)` with
    `_env_file=` the yielded `.env` path); a pydantic or pydantic-settings error raised there leaves as a
    `ConfigurationError` naming the setting's path.
    """
    dotenv_path = Path(env_file) if env_file is not None and Path(env_file).is_file() else None
    dotenv: dict[str, str | None] = dict(dotenv_values(dotenv_path)) if dotenv_path is not None else {}
    lookup: dict[str, str | None] = {**dotenv, **os.environ}
    if path is None and lookup.get("PLEX_COGNITE_CONFIG"):
        path = lookup["PLEX_COGNITE_CONFIG"]

    data: dict[str, Any] = {}
    source = "settings"
    if path is not None:
        source = str(path)
        raw = _read_yaml(Path(path))
        data, problems = substitute_env(raw, lookup)
        if problems:
            raise _problems_error(problems, source=source)

    token = _YAML_DATA.set(data)
    try:
        yield dotenv_path
    except pydantic.ValidationError as exc:
        raise format_validation_error(settings_cls, exc, source=source, env=lookup) from None
    except SettingsError as exc:
        raise ConfigurationError(f"{source}: {exc}; environment values for lists and sections must be JSON") from None
    finally:
        _YAML_DATA.reset(token)


def load(
    settings_cls: type[SettingsT],
    path: str | Path | None,
    *,
    env_file: str | Path | None,
    overrides: Mapping[str, Any],
) -> SettingsT:
    """Read, substitute, merge and validate settings (see `plex_cognite.config.load_settings`)."""
    with loading(settings_cls, path, env_file=env_file) as dotenv_path:
        return settings_cls(_env_file=dotenv_path, **overrides)
