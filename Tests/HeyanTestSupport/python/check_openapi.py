#!/usr/bin/env python3
"""Checks heyan's HTTP exchanges against schemas/openapi.yaml, and the spec itself.

    check_openapi.py --spec schemas/openapi.yaml < exchanges.jsonl
        Each stdin line is one recorded exchange:
            {"method": "POST", "path": "/v1/verifications/{id}", "status": 201,
             "contentType": "application/json", "body": "<the raw body text>"}
        `path` is the route template as written in the spec. `body` is the raw text (parsed here
        for JSON media types, so invalid JSON is a failure); a non-string `body` is taken as
        already parsed. Prints one line per failure, "#<line> <METHOD> <path> <status>: <why>",
        and exits 0 (1 only if the input itself cannot be read).

    check_openapi.py --spec schemas/openapi.yaml --validate-spec
        Validates the document with openapi-spec-validator; prints the error and exits 1 if invalid.

    check_openapi.py --spec schemas/openapi.yaml --list-operations
        Prints "<METHOD> <path> <operationId>" for every operation, sorted.

    check_openapi.py --spec schemas/openapi.yaml --write-requests schemas/requests
    check_openapi.py --spec schemas/openapi.yaml --compare-requests schemas/requests
        The request body schemas in schemas/requests/ are self-contained copies of the spec's
        components (every $ref inlined). --write-requests regenerates them; --compare-requests
        prints one line per file that differs from the spec and exits 1 if any does.

Unknown paths and methods are failures, except that 404 and 405 answers to them are checked
against the Problem schema (405 against components/responses/MethodNotAllowed).

The document is loaded refusing duplicate mapping keys (YAML forbids them; PyYAML alone keeps the
last silently, while ruamel.yaml, which client generators use, refuses the file): every mode then
prints "invalid YAML: ..." and exits 1. A body failing a `oneOf` that has a `discriminator` is
reported with the errors of the branch its discriminating value names, as a client decoding it
would meet them, and a `not: {required: [...]}` as the members that must not be present.
"""
import argparse
import json
import os
import sys

import yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:heyan:openapi"
JSON_MEDIA_TYPES = ("application/json", "application/problem+json")

# Request body schema file -> component name.
REQUEST_SCHEMAS = {
    "submit-verification.schema.json": "SubmitVerificationRequest",
    "answer-queue-item.schema.json": "AnswerQueueItemRequest",
    "put-record.schema.json": "PutRecordRequest",
    "records-batch.schema.json": "RecordsBatchRequest",
    "revoke-attestation.schema.json": "RevokeAttestationRequest",
    "submit-commitment.schema.json": "SubmitCommitmentRequest",
    "answer-spot-check.schema.json": "SpotCheckAnswerRequest",
}


class DuplicateKeyError(yaml.constructor.ConstructorError):
    pass


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a mapping key given twice is an error, as YAML says
    (PyYAML alone keeps the last value silently; ruamel.yaml, which openapi-python-client uses,
    refuses the whole document)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise DuplicateKeyError(
                    "while constructing a mapping", node.start_mark,
                    "found duplicate key %r (first at line %d)" % (key, seen[key].line + 1), key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load_spec(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=StrictLoader)


def pointer_escape(segment):
    return segment.replace("~", "~0").replace("/", "~1")


def pointer(*segments):
    return "#/" + "/".join(pointer_escape(str(s)) for s in segments)


def resolve_local(spec, node):
    """Follows a local `$ref` ('#/components/...') to the node it names, with its pointer."""
    where = None
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("only local references are supported: %s" % ref)
        where = ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, where


class Checker:
    def __init__(self, spec):
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)

    def validator(self, schema_pointer):
        return OAS31Validator(
            {"$ref": SPEC_URI + schema_pointer},
            registry=self.registry,
            format_checker=OAS31Validator.FORMAT_CHECKER,
        )

    def response_for(self, method, path, status):
        """(response object, its JSON pointer) or (None, reason)."""
        paths = self.spec.get("paths", {})
        status_key = str(status)
        if path not in paths:
            if status in (404, 405):
                return self.component_response("NotFound" if status == 404 else "MethodNotAllowed")
            return None, "path %s is not in the spec" % path
        operation = paths[path].get(method.lower())
        if operation is None:
            if status == 405:
                return self.component_response("MethodNotAllowed")
            return None, "%s %s is not an operation in the spec" % (method, path)
        responses = operation.get("responses", {})
        for key in (status_key, status_key[0] + "XX", "default"):
            if key in responses:
                response, where = resolve_local(self.spec, responses[key])
                return response, where or pointer("paths", path, method.lower(), "responses", key)
        return None, "status %d is not documented for %s %s (documented: %s)" % (
            status, method, path, ", ".join(sorted(responses)))

    def component_response(self, name):
        return self.spec["components"]["responses"][name], pointer("components", "responses", name)

    def check(self, exchange):
        method = exchange["method"]
        path = exchange["path"]
        status = int(exchange["status"])
        content_type = (exchange.get("contentType") or "").split(";")[0].strip().lower()
        body = exchange.get("body")
        response, where = self.response_for(method, path, status)
        if response is None:
            return [where]
        content = response.get("content")
        if not content:
            if body not in (None, ""):
                return ["no body is documented, got %d characters" % len(body if isinstance(body, str) else json.dumps(body))]
            return []
        if content_type not in content:
            return ["content type %r is not documented (documented: %s)" % (content_type, ", ".join(content))]
        schema_pointer = where + "/content/" + pointer_escape(content_type) + "/schema"
        if content_type in JSON_MEDIA_TYPES or content_type.endswith("+json"):
            if isinstance(body, str):
                try:
                    body = json.loads(body)
                except ValueError as error:
                    return ["body is not JSON: %s" % error]
        elif not isinstance(body, str):
            return ["a %s body must be a string" % content_type]
        failures = []
        for error in sorted(self.explained(self.validator(schema_pointer).iter_errors(body)),
                            key=lambda e: list(e.absolute_path)):
            location = "".join("[%d]" % p if isinstance(p, int) else "." + str(p) for p in error.absolute_path)
            failures.append("$%s: %s" % (location, error.message))
        return failures

    def explained(self, errors):
        """The errors, with a `oneOf` that has a `discriminator` replaced by the errors of the
        branch its discriminating value names (what a client decoding the body would hit), so a
        pending verification missing `dueAt` reads "'dueAt' is a required property" rather than
        "not valid under any of the given schemas". A value the mapping does not name is reported
        as such."""
        for error in errors:
            schema = error.schema if isinstance(error.schema, dict) else {}
            if error.validator == "not" and isinstance(error.instance, dict):
                forbidden = [key for key in forbidden_members(error.validator_value) if key in error.instance]
                if forbidden:
                    error.message = "%s must not be present here" % ", ".join(repr(key) for key in forbidden)
            discriminator = schema.get("discriminator")
            if error.validator != "oneOf" or not isinstance(discriminator, dict) or not isinstance(error.instance, dict):
                yield error
                continue
            name = discriminator["propertyName"]
            mapping = discriminator.get("mapping", {})
            value = error.instance.get(name)
            target = mapping.get(value) if isinstance(value, str) else None
            if target is None:
                error.message = "%r is not a known %s (one of %s)" % (value, name, sorted(mapping))
                yield error
                continue
            branch = next((i for i, s in enumerate(error.validator_value) if s.get("$ref") == target), None)
            chosen = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == branch]
            if not chosen:  # the branch matched, so another one did too: keep oneOf's own message
                yield error
                continue
            yield from self.explained(chosen)


def forbidden_members(schema):
    """The member names a `not: {required: [...]}` or `not: {anyOf: [{required: [...]}, ...]}`
    forbids, in order; empty for any other shape."""
    if not isinstance(schema, dict):
        return []
    if set(schema) == {"required"}:
        return list(schema["required"])
    if set(schema) == {"anyOf"} and all(isinstance(s, dict) and set(s) == {"required"} for s in schema["anyOf"]):
        return [key for s in schema["anyOf"] for key in s["required"]]
    return []


def inline(spec, node, seen=()):
    """`node` with every local $ref replaced by a copy of its target (siblings merged in)."""
    if isinstance(node, list):
        return [inline(spec, item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise ValueError("recursive schema at %s" % ref)
        target, _ = resolve_local(spec, {"$ref": ref})
        target = inline(spec, target, seen + (ref,))
        siblings = {k: inline(spec, v, seen) for k, v in node.items() if k != "$ref"}
        if not siblings:
            return target
        if set(siblings) & set(target):
            return dict(siblings, allOf=[target])
        merged = dict(target)
        merged.update(siblings)
        return merged
    return {key: inline(spec, value, seen) for key, value in node.items()}


def request_schema(spec, component):
    body = inline(spec, spec["components"]["schemas"][component])
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:heyan:schema:request:" + component,
        "title": component + " (generated from schemas/openapi.yaml; edit the spec, then run check_openapi.py --write-requests)",
    }
    document.update(body)
    return document


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--validate-spec", action="store_true")
    parser.add_argument("--list-operations", action="store_true")
    parser.add_argument("--write-requests", metavar="DIR")
    parser.add_argument("--compare-requests", metavar="DIR")
    arguments = parser.parse_args()
    try:
        spec = load_spec(arguments.spec)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = " at line %d" % (mark.line + 1) if mark else ""
        print("invalid YAML: %s%s" % (getattr(error, "problem", None) or error, where))
        return 1

    if arguments.validate_spec:
        from openapi_spec_validator import validate
        try:
            validate(spec)
        except Exception as error:  # the validator's own error types vary between versions
            print("invalid OpenAPI document: %s" % str(error).split("\n")[0])
            return 1
        print("valid")
        return 0

    if arguments.list_operations:
        methods = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
        lines = []
        for path, item in spec.get("paths", {}).items():
            for method in methods:
                if method in item:
                    lines.append("%s %s %s" % (method.upper(), path, item[method].get("operationId", "-")))
        print("\n".join(sorted(lines)))
        return 0

    if arguments.write_requests:
        os.makedirs(arguments.write_requests, exist_ok=True)
        for name, component in REQUEST_SCHEMAS.items():
            with open(os.path.join(arguments.write_requests, name), "w", encoding="utf-8") as f:
                json.dump(request_schema(spec, component), f, indent=2, ensure_ascii=False)
                f.write("\n")
        return 0

    if arguments.compare_requests:
        differing = 0
        for name, component in REQUEST_SCHEMAS.items():
            path = os.path.join(arguments.compare_requests, name)
            try:
                with open(path, encoding="utf-8") as f:
                    written = json.load(f)
            except (OSError, ValueError) as error:
                print("%s: cannot read: %s" % (name, error))
                differing += 1
                continue
            if written != request_schema(spec, component):
                print("%s: differs from components/schemas/%s in the spec" % (name, component))
                differing += 1
        return 1 if differing else 0

    checker = Checker(spec)
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            exchange = json.loads(line)
            label = "#%d %s %s %s" % (number, exchange["method"], exchange["path"], exchange["status"])
        except (ValueError, KeyError) as error:
            print("#%d: unreadable exchange: %s" % (number, error))
            continue
        for failure in checker.check(exchange):
            print("%s: %s" % (label, failure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
