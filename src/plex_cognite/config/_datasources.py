"""Settings for the Plex Data Source API: accounts (one per PCN) and the data-source streams.

```yaml
plex:
  pcns: ["340884", "310507"]
  datasource:
    base_url: https://cloud.plex.com
    credentials:                       # a web-service account belongs to one PCN: one entry per PCN
      "340884": {username: ${DS_USER_A}, password: ${DS_PASSWORD_A}}
      "310507": {username: ${DS_USER_B}, password: ${DS_PASSWORD_B}, base_url: https://b.on.plex.com}
extraction:
  datasources:
    - name: checksheets                # runs as stream `datasource:checksheets`
      id: 4142
      inputs: {}
      window: {begin_input: Begin_Date, end_input: End_Date}
      key_columns: [Checksheet_Key]
      raw_table: checksheets
```
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from plex_cognite.config._types import HttpUrlStr, PcnStr
from plex_cognite.errors import ConfigurationError

__all__ = ["DataSourceAccount", "DataSourceSettings", "DataSourceStream", "DataSourceWindow"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
#: What a fixed data-source input may be (JSON scalars; Plex converts them to the declared type).
InputScalar = str | int | float | bool | None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)


class DataSourceAccount(_Section):
    """One PCN's Plex web-service account for the Data Source API (HTTP Basic auth)."""

    username: SecretStr
    password: SecretStr
    base_url: HttpUrlStr | None = Field(
        None, description="This PCN's host (e.g. https://{code}.on.plex.com); default `plex.datasource.base_url`."
    )


class DataSourceSettings(_Section):
    """Plex Data Source API (HTTP Basic auth), optional.

    A web-service account belongs to one PCN, so with several PCNs give each its own account under `credentials`.
    `username`/`password` at this level are the account of a single-PCN setup (or of the PCNs without an entry).
    """

    base_url: HttpUrlStr = "https://cloud.plex.com"
    username: SecretStr | None = None
    password: SecretStr | None = None
    row_limit_default: int = Field(1000, ge=1, description="Row limit sent when a query sets none.")
    credentials: dict[PcnStr, DataSourceAccount] = Field(
        default_factory=dict, description="PCN -> its own web-service account (and optionally its own host)."
    )

    @model_validator(mode="after")
    def _some_account(self) -> DataSourceSettings:
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise ValueError(f"username and password go together; {missing} is missing")
        if self.username is None and not self.credentials:
            raise ValueError("no account is set; set username and password, or credentials per PCN")
        return self

    def has_account(self, pcn: str) -> bool:
        """Whether `pcn` has an account of its own or can use the default one."""
        return pcn in self.credentials or self.username is not None

    def for_pcn(self, pcn: str) -> DataSourceSettings:
        """The settings of the account that reads `pcn`'s data sources (its own entry, else the default account).

        Raises:
            ConfigurationError: `pcn` has no entry in `credentials` and there is no default account.
        """
        account = self.credentials.get(pcn)
        if account is not None:
            return DataSourceSettings(
                base_url=account.base_url or self.base_url,
                username=account.username,
                password=account.password,
                row_limit_default=self.row_limit_default,
            )
        if self.username is None:
            raise ConfigurationError(
                f"PCN {pcn} has no Data Source account; add plex.datasource.credentials.{pcn} (username, password)",
                field=f"plex.datasource.credentials.{pcn}",
            )
        return self


class DataSourceWindow(_Section):
    """The two date inputs a windowed data source is read with (`[begin, end)`, like the history streams)."""

    begin_input: str = Field(min_length=1, description="Input that takes the window start, e.g. Begin_Date.")
    end_input: str = Field(min_length=1, description="Input that takes the window end, e.g. End_Date.")

    @model_validator(mode="after")
    def _two_inputs(self) -> DataSourceWindow:
        if self.begin_input == self.end_input:
            raise ValueError(f"begin_input and end_input are both {self.begin_input!r}; name two different inputs")
        return self


class DataSourceStream(_Section):
    """One Plex Data Source extracted into a CDF RAW table, as stream `datasource:<name>`."""

    name: str = Field(description="Stream name suffix: letters, digits, `_`, `.`, `-` (`datasource:<name>`).")
    id: int = Field(ge=1, description="The data source id (ids differ per tenant: look them up with search).")
    inputs: dict[str, InputScalar] = Field(default_factory=dict, description="Fixed inputs, sent as configured.")
    window: DataSourceWindow | None = Field(None, description="Date-window inputs; omit for a snapshot source.")
    key_columns: list[str] = Field(min_length=1, description="Columns whose values make the RAW row key.")
    raw_table: str | None = Field(None, min_length=1, description="RAW table in cdf.raw_database; default `name`.")
    format: Literal[1, 2] = Field(2, description="Response format asked of Plex (1: tables, 2: rows).")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a usable name; use letters, digits, '_', '.' or '-' (up to 63), e.g. checksheets"
            )
        return value

    @field_validator("key_columns")
    @classmethod
    def _unique_columns(cls, columns: list[str]) -> list[str]:
        seen: set[str] = set()
        for column in columns:
            if not column:
                raise ValueError("a key column name is empty")
            if column in seen:
                raise ValueError(f"key column {column!r} is listed twice")
            seen.add(column)
        return columns

    @model_validator(mode="after")
    def _window_inputs_are_not_fixed(self) -> DataSourceStream:
        if self.window is not None:
            fixed = sorted({self.window.begin_input, self.window.end_input} & set(self.inputs))
            if fixed:
                raise ValueError(f"input(s) {', '.join(fixed)} are set per window; remove them from inputs")
        return self

    @property
    def stream(self) -> str:
        """The stream name, `datasource:<name>`."""
        return f"datasource:{self.name}"

    @property
    def table(self) -> str:
        """The RAW table (`raw_table`, default `name`)."""
        return self.raw_table or self.name


def check_unique_names(streams: list[DataSourceStream]) -> list[DataSourceStream]:
    """Refuse two data-source streams with one name (they would share state and a stream name)."""
    seen: set[str] = set()
    for index, stream in enumerate(streams):
        if stream.name in seen:
            raise ValueError(f"data source name {stream.name!r} is used twice (item {index}); names must be unique")
        seen.add(stream.name)
    return streams


def check_accounts(datasource: DataSourceSettings | None, pcns: list[str], streams: list[Any]) -> None:
    """Every PCN must have a Data Source account when data-source streams are configured.

    With several PCNs, the default account alone is refused: it belongs to one PCN and would read that PCN's data
    for every other PCN.
    """
    if not streams:
        return
    if datasource is None:
        raise ValueError("extraction.datasources needs plex.datasource (the Data Source API account)")
    if len(pcns) > 1:
        missing = [pcn for pcn in pcns if pcn not in datasource.credentials]
        if missing:
            raise ValueError(
                "with several PCNs every PCN needs its own Data Source account (an account belongs to one PCN); "
                f"add plex.datasource.credentials for {', '.join(missing)}"
            )
