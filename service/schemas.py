"""marshmallow schemas for inbound CDS Hooks envelopes (checklist §3, R-02…R-05).

Envelopes tolerate unknown fields (EHRs add them; `extension` is reserved) and drop them.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

# FHIR R4 id datatype: [A-Za-z0-9\-\.]{1,64}. patientId / encounterId are bare ids (S10 bad fixture).
FHIR_ID = validate.Regexp(r"^[A-Za-z0-9\-.]{1,64}$", error="must be a bare FHIR id (e.g. '123', not 'Patient/123')")
# ord-1: "Type/id" (CDS Hooks library invariant), e.g. Practitioner/example.
TYPE_SLASH_ID = validate.Regexp(
    r"^[A-Za-z]+/[A-Za-z0-9\-.]{1,64}$", error="must be a relative reference 'ResourceType/id'"
)


class _Tolerant(Schema):
    class Meta:
        unknown = EXCLUDE


class FhirAuthorizationSchema(_Tolerant):
    access_token = fields.String(required=True, validate=validate.Length(min=1))
    token_type = fields.String(required=True, validate=validate.OneOf(["Bearer", "bearer"]))
    expires_in = fields.Integer(required=True, strict=True)
    scope = fields.String(required=True)
    subject = fields.String(required=True)
    patient = fields.String(validate=FHIR_ID)


class HookRequestSchema(_Tolerant):
    """The envelope common to every hook; the context is checked per hook afterwards."""

    hook = fields.String(required=True, validate=validate.Length(min=1))
    hookInstance = fields.UUID(required=True)  # CDS Hooks field names are camelCase
    fhirServer = fields.Url(schemes={"http", "https"}, require_tld=False)
    fhirAuthorization = fields.Nested(FhirAuthorizationSchema)
    context = fields.Dict(required=True)
    # Keys of a JSON object are always strings and a value may be anything (null included): no per-key
    # field to run. What each value must be is split_prefetch's to say (service/core/prefetch.py).
    prefetch = fields.Dict()
    extension = fields.Dict()

    @validates_schema
    def _authorization_needs_server(self, data: dict[str, Any], **_: Any) -> None:
        # cds-r-1: fhirAuthorization.exists() implies fhirServer.exists()
        if "fhirAuthorization" in data and "fhirServer" not in data:
            raise ValidationError("fhirServer is required when fhirAuthorization is given", "fhirServer")


class PatientViewContextSchema(_Tolerant):
    userId = fields.String(required=True, validate=TYPE_SLASH_ID)
    patientId = fields.String(required=True, validate=FHIR_ID)
    encounterId = fields.String(validate=FHIR_ID)


def _bundle(value: Any) -> None:
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        raise ValidationError("must be a FHIR Bundle")
    if not isinstance(value.get("entry", []), list):
        raise ValidationError("Bundle.entry must be an array")


class OrderSignContextSchema(PatientViewContextSchema):
    # draftOrders: a Bundle of R4 request resources; Bundle.type is not mandated (cds-hooks/docs#517).
    draftOrders = fields.Dict(required=True, validate=_bundle)


class OrderSelectContextSchema(OrderSignContextSchema):
    selections = fields.List(fields.String(validate=TYPE_SLASH_ID), required=True, validate=validate.Length(min=1))


CONTEXT_SCHEMAS: dict[str, Schema] = {
    "patient-view": PatientViewContextSchema(),
    "order-select": OrderSelectContextSchema(),
    "order-sign": OrderSignContextSchema(),
}


class CodingSchema(_Tolerant):
    # The sandbox sends override reasons with a code and only optionally a system (checklist F-07).
    system = fields.String()
    code = fields.String(required=True, validate=validate.Length(min=1))
    display = fields.String()


class OverrideReasonSchema(_Tolerant):
    reason = fields.Nested(CodingSchema)
    userComment = fields.String()


class AcceptedSuggestionSchema(_Tolerant):
    id = fields.String(required=True, validate=validate.Length(min=1))


class FeedbackItemSchema(_Tolerant):
    """One feedback item (CDS Hooks 2.0 §Feedback; cds-fb-1, cds-fb-2)."""

    card = fields.String(required=True, validate=validate.Length(min=1))
    outcome = fields.String(required=True, validate=validate.OneOf(["accepted", "overridden"]))
    acceptedSuggestions = fields.List(fields.Nested(AcceptedSuggestionSchema))
    overrideReason = fields.Nested(OverrideReasonSchema)
    outcomeTimestamp = fields.AwareDateTime(required=True, format="iso", default_timezone=None)

    @validates_schema
    def _accepted_needs_suggestions(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("outcome") == "accepted" and not data.get("acceptedSuggestions"):
            raise ValidationError("acceptedSuggestions is required when outcome is accepted", "acceptedSuggestions")


class FeedbackSchema(_Tolerant):
    feedback = fields.List(fields.Nested(FeedbackItemSchema), required=True, validate=validate.Length(min=1))


feedback_schema = FeedbackSchema()
hook_request_schema = HookRequestSchema()


def flatten_errors(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested messages as (dotted location, message) pairs."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            location = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            out += flatten_errors(value, location)
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, str):
                out.append((prefix, item))
            else:
                out += flatten_errors(item, prefix)
    else:
        out.append((prefix, str(messages)))
    return out
