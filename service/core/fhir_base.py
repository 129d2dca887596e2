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
from typing import Annotated, Any, ClassVar, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, SchemaValidator
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

    __slots__ = ("groups",)
    groups: list[tuple[str, tuple[str, ...], frozenset[str], bool]]

    def __init__(self, groups: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> None:
        self.groups = [(prefix, keys, frozenset(keys), prefix in required) for prefix, keys in groups.items()]

    def __call__(self, data: Any) -> Any:
        if type(data) is not dict:
            return data  # the model's own schema reports the wrong type
        get = data.get
        for prefix, keys, keyset, required in self.groups:
            # Count the alternatives given by walking the shorter of the two: the group (2-5 alternatives,
            # a lookup each) or the element's keys (an extension has 2 keys but 50 value[x] alternatives).
            given = 0
            if len(keys) <= len(data):
                for key in keys:
                    if get(key) is not None:
                        given += 1
            else:
                for key, value in data.items():
                    if value is not None and key in keyset:
                        given += 1
            if given > 1:
                raise PydanticCustomError(
                    "fhir_choice",
                    "{prefix}[x] is a choice: give one of {alternatives}, not several",
                    {"prefix": prefix, "alternatives": ", ".join(keys)},
                )
            if required and not given:
                raise PydanticCustomError(
                    "fhir_choice",
                    "{prefix}[x] is required: give one of {alternatives}",
                    {"prefix": prefix, "alternatives": ", ".join(keys)},
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


# -- plain validators ------------------------------------------------------------------------------------
# The extraction reads a validated resource once and keeps only a few facts of it, so it does not need model
# instances: building one per element (a Condition is ~8: codings, concepts, the subject reference) is most
# of the validation time. plain_validator() runs the model's own core schema, element for element, with each
# model turned into a typed dict: the same fields, types, patterns, required elements, choice checks and
# unknown-element errors, and the same error locations, but the result is plain dicts (only the elements
# given). Measured on the Synthea Conditions: 21 µs → 10 µs each.


def plain_validator(model: type[BaseModel]) -> SchemaValidator:
    """A validator of `model`'s core schema that returns dicts (elements given only) instead of models."""
    model.model_rebuild()
    return SchemaValidator(cast(cs.CoreSchema, _as_typed_dicts(model.__pydantic_core_schema__)))


def _as_typed_dicts(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_as_typed_dicts(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "model":
        inner = dict(_as_typed_dicts(schema["schema"]))  # model-fields, possibly inside the choice check
        _typed_dict_in(inner)["config"] = schema.get("config")
        if "ref" in schema:
            inner["ref"] = schema["ref"]
        return inner
    if schema.get("type") == "model-fields":
        return cs.typed_dict_schema(
            {name: _typed_dict_field(name, field) for name, field in schema["fields"].items()},
            extra_behavior=schema.get("extra_behavior"),
        )
    return {key: _as_typed_dicts(value) for key, value in schema.items()}


def _typed_dict_in(schema: dict[str, Any]) -> dict[str, Any]:
    """The typed-dict schema itself, or the one a before-validator (the choice check) wraps."""
    while schema.get("type") != "typed-dict":
        schema = schema["schema"]
    return schema


def _typed_dict_field(name: str, field: Any) -> cs.TypedDictField:
    inner, required = field["schema"], True
    if inner.get("type") == "default":
        if inner.get("default") is not None or "default_factory" in inner:
            raise TypeError(f"{name}: only None defaults can be left out of a typed dict")
        inner, required = inner["schema"], False
    return cs.typed_dict_field(
        _as_typed_dicts(inner), required=required, validation_alias=field.get("validation_alias")
    )
