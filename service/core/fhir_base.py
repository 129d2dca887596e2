"""Runtime support of the generated FHIR models (service/core/fhir_models.py): pure pydantic-core schemas.

fhir.resources validates every nested element by calling back into Python (a wrap validator per element
that calls `model_validate`, a before-validator looping over all fields, an after-validator for required
primitives and choice types). The generated models express the same rules as core schemas, so a whole
resource is validated in one call into pydantic-core with no Python in the loop:

- FHIR primitives: strict str/int/bool/float with fhir.resources' own regexes and bounds, and date/time
  types as a regex-guarded union (partial date kept as text, full date → date, date-time → aware datetime);
- required elements are required fields;
- choice types (value[x]: at most one of valueQuantity, valueString…): a key-set check before the fields,
  the only Python in the loop, once per instance of the few models that have choice elements.

Nothing here imports fhir.resources: it is used only by tools/gen_fhir_models.py and the tests.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import PydanticCustomError
from pydantic_core import core_schema as cs

# fhir_core.types patterns (Date, DateTime, Instant, Time), anchored for pydantic-core's regex engine.
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_MONTH = r"(0[1-9]|1[0-2])"
_DAY = r"(0[1-9]|[1-2][0-9]|3[0-1])"
# Seconds 00-59: fhir.resources keeps a leap second (:60) as unparsed text; the generated models refuse
# it (stricter: it cannot be represented as a datetime, and the rules could not use it anyway).
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
_ZONE = r"(Z|([+\-])((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_PARTIAL = rf"^{_YEAR}(-{_MONTH})?$"
_FULL_DATE = rf"^{_YEAR}-{_MONTH}-{_DAY}$"
_DATE_TIME = rf"^{_YEAR}-{_MONTH}-{_DAY}T{_TIME}{_ZONE}$"


def _guarded(pattern: str, then: cs.CoreSchema | None = None) -> cs.CoreSchema:
    text = cs.str_schema(strict=True, pattern=pattern)
    return text if then is None else cs.chain_schema([text, then])


def _one_error(schema: cs.CoreSchema, kind: str, message: str) -> cs.CoreSchema:
    return cs.custom_error_schema(schema, custom_error_type=kind, custom_error_message=message)


_DATE_TIME_SCHEMA = _one_error(
    cs.union_schema(
        [
            _guarded(_DATE_TIME, cs.datetime_schema(tz_constraint="aware")),
            _guarded(_FULL_DATE, cs.date_schema()),
            _guarded(_PARTIAL),
        ],
        mode="left_to_right",
    ),
    "fhir_datetime",
    "Not a FHIR dateTime: expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss) with a time zone, "
    "a real calendar date",
)
_DATE_SCHEMA = _one_error(
    cs.union_schema([_guarded(_FULL_DATE, cs.date_schema()), _guarded(_PARTIAL)], mode="left_to_right"),
    "fhir_date",
    "Not a FHIR date: expected YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date",
)
_INSTANT_SCHEMA = _one_error(
    _guarded(_DATE_TIME, cs.datetime_schema(tz_constraint="aware")),
    "fhir_instant",
    "Not a FHIR instant: expected YYYY-MM-DDThh:mm:ss(.sss) with a time zone, a real calendar date",
)
_TIME_SCHEMA = _one_error(
    _guarded(rf"^{_TIME}$", cs.time_schema()), "fhir_time", "Not a FHIR time: expected hh:mm:ss(.sss)"
)


class _Schema:
    """An Annotated marker that replaces a type's schema by a prebuilt core schema."""

    __slots__ = ("schema",)

    def __init__(self, schema: cs.CoreSchema) -> None:
        self.schema = schema

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> cs.CoreSchema:
        return self.schema


FhirDateTime = Annotated[datetime | date | str, _Schema(_DATE_TIME_SCHEMA)]
FhirDate = Annotated[date | str, _Schema(_DATE_SCHEMA)]
FhirInstant = Annotated[datetime, _Schema(_INSTANT_SCHEMA)]
FhirTime = Annotated[time, _Schema(_TIME_SCHEMA)]
# decimal: a JSON number (not a string, not a boolean), as a float; fhir.resources makes a Decimal of it.
FhirDecimal = Annotated[float, _Schema(cs.float_schema(strict=True, allow_inf_nan=False))]
# base64Binary: canonical base64 text (fhir.resources decodes it leniently to bytes; it is never read here).
FhirBase64 = Annotated[
    str,
    _Schema(
        _one_error(
            cs.str_schema(strict=True, pattern=r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"),
            "fhir_base64",
            "Not base64Binary text",
        )
    ),
]

# uuid: the same pydantic-core validator as fhir.resources' UUID4.
FhirUuid = Annotated[UUID, _Schema(cs.uuid_schema(version=4))]


class _ChoiceCheck:
    """At most one alternative of each choice group given (exactly one for a required group), as in
    fhir.resources (an alternative that is null is not given).

    The one Python step of validation, run once per instance of a model that has choice elements: a
    set intersection on the keys. (The same rule as a pure pydantic-core schema, a union of typed dicts
    per allowed shape, measured 4 µs per Condition against 0.6 µs for this.)"""

    __slots__ = ("groups", "required")

    def __init__(self, groups: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> None:
        self.groups = [(prefix, frozenset(keys), keys) for prefix, keys in groups.items()]
        self.required = frozenset(required)

    def __call__(self, data: Any) -> Any:
        if type(data) is not dict:
            return data  # the model's own schema reports the wrong type
        for prefix, keys, ordered in self.groups:
            present = keys & data.keys()
            if len(present) > 1 and sum(data[k] is not None for k in present) > 1:
                raise PydanticCustomError(
                    "fhir_choice",
                    "{prefix}[x] is a choice: give one of {alternatives}, not several",
                    {"prefix": prefix, "alternatives": ", ".join(ordered)},
                )
            if prefix in self.required and not any(data[k] is not None for k in present):
                raise PydanticCustomError(
                    "fhir_choice",
                    "{prefix}[x] is required: give one of {alternatives}",
                    {"prefix": prefix, "alternatives": ", ".join(ordered)},
                )
        return data


class FhirModel(BaseModel):
    """Base of the generated models: unknown elements are errors (the caller drops them and retries)."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, defer_build=True)
    # Choice elements of this model: "value" ([x]) → the JSON names of its alternatives.
    __choice_groups__: ClassVar[dict[str, tuple[str, ...]]] = {}
    __choice_required__: ClassVar[tuple[str, ...]] = ()  # the groups of which one alternative is required

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> cs.CoreSchema:
        schema = handler(source)
        groups = cls.__dict__.get("__choice_groups__")
        if groups and schema.get("type") == "model" and schema.get("cls") is cls:
            model: Any = schema
            check = _ChoiceCheck(groups, cls.__dict__.get("__choice_required__", ()))
            model["schema"] = cs.no_info_before_validator_function(check, model["schema"])
        return schema
