#!/usr/bin/env python3
"""Verifies heyan attestations with libraries heyan does not use: joserfc and cryptography.

    verify_attestation.py --ca CA.pem [--at UNIX_SECONDS] [--schema schemas/attestation.schema.json]
                          [--jwks JWKS.json]

Reads one JWS compact serialization per line on stdin and writes one JSON line per input:
    {"ok": true, "payload": {...}}     or     {"ok": false, "error": "<stage>: <why>"}
where <stage> is one of malformed, type, chain, key, signature, payload, not-yet-valid, expired,
schema. The checks are the ones an outside relying party makes:
  - the protected header has typ "heyan-attestation+jwt", alg ES256 or EdDSA, and an x5c chain;
  - the x5c chain verifies against the CA with cryptography.x509.verification at the
    verification time (the signing certificate is not a TLS certificate: the end-entity
    extension policy is permissive, the CA policy the web-PKI default);
  - the signature verifies with joserfc using the leaf's public key (joserfc's header length
    limit is raised: heyan's x5c headers are longer than its 512-byte default);
  - the payload is a JSON object with integer nbf <= now < exp;
  - with --schema, the payload follows the attestation JSON Schema;
  - with --jwks (heyan's GET /.well-known/jwks.json), the key is the set's entry named by the
    header's kid, not the x5c leaf: the entry must be a signing key (use "sig", the header's alg),
    its kid must be its RFC 7638 thumbprint (computed by joserfc), its own x5c chain must verify
    against the CA and its x5c leaf must certify that very key, and the token's x5c leaf must be
    the same key. A kid not in the set fails at stage "key".
"""
import argparse
import base64
import datetime
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store
from joserfc import jws
from joserfc.jwk import ECKey, KeySet, OKPKey

TYPE = "heyan-attestation+jwt"
ALGORITHMS = ("ES256", "EdDSA")


class Invalid(Exception):
    def __init__(self, stage, message):
        super().__init__("%s: %s" % (stage, message))


def registry():
    r = jws.JWSRegistry(algorithms=list(ALGORITHMS))
    r.max_header_length = 16384
    return r


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def verify_chain(x5c, ca_certificates, at, stage="chain"):
    """The x5c chain as certificates, verified against the CA at `at`; leaf first."""
    if not isinstance(x5c, list) or not x5c:
        raise Invalid(stage, "no x5c certificate chain")
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode(entry, validate=True)) for entry in x5c]
    except (ValueError, TypeError) as error:
        raise Invalid(stage, "x5c is not standard Base64 DER certificates: %s" % error)
    verifier = (
        PolicyBuilder()
        .store(Store(ca_certificates))
        .time(at)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(chain[0], chain[1:])
    except Exception as error:  # VerificationError, or a certificate the policy cannot parse
        raise Invalid(stage, str(error))
    return chain


def public_pem(certificate):
    return certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_from_set(header, key_set, ca_certificates, at, token_leaf):
    """The JWKS entry named by the header's kid, checked against its own x5c and the token's."""
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Invalid("key", "the header has no kid")
    entries = [entry for entry in key_set.get("keys", []) if entry.get("kid") == kid]
    if len(entries) != 1:
        raise Invalid("key", "kid %r is in the key set %d times" % (kid, len(entries)))
    entry = entries[0]
    if entry.get("use") != "sig" or entry.get("alg") != header["alg"]:
        raise Invalid("key", "entry %r has use %r alg %r" % (kid, entry.get("use"), entry.get("alg")))
    key = KeySet.import_key_set({"keys": [entry]}).keys[0]
    if key.thumbprint() != kid:
        raise Invalid("key", "kid %r is not the RFC 7638 thumbprint %r" % (kid, key.thumbprint()))
    entry_chain = verify_chain(entry.get("x5c"), ca_certificates, at, stage="key")
    leaf_key = (ECKey if header["alg"] == "ES256" else OKPKey).import_key(public_pem(entry_chain[0]))
    if leaf_key.thumbprint() != kid:
        raise Invalid("key", "the key set's x5c leaf for %r certifies another key" % kid)
    token_key = (ECKey if header["alg"] == "ES256" else OKPKey).import_key(public_pem(token_leaf))
    if token_key.thumbprint() != kid:
        raise Invalid("key", "the token's x5c leaf is not the key %r" % kid)
    return key


def verify(token, ca_certificates, at, schema_validator, key_set=None):
    parts = token.split(".")
    if len(parts) != 3:
        raise Invalid("malformed", "a compact JWS has 3 parts, this one has %d" % len(parts))
    try:
        header = b64url_json(parts[0])
    except ValueError as error:
        raise Invalid("malformed", "the header is not base64url JSON: %s" % error)
    if not isinstance(header, dict):
        raise Invalid("malformed", "the header is not a JSON object")
    if header.get("typ") != TYPE:
        raise Invalid("type", "typ is %r, not %r" % (header.get("typ"), TYPE))
    if header.get("alg") not in ALGORITHMS:
        raise Invalid("signature", "unsupported alg %r" % header.get("alg"))
    if not isinstance(header.get("x5c"), list) or not header["x5c"]:
        raise Invalid("chain", "no x5c certificate chain in the header")
    chain = verify_chain(header["x5c"], ca_certificates, at)
    if key_set is not None:
        key = key_from_set(header, key_set, ca_certificates, at, chain[0])
    else:
        public = public_pem(chain[0])
        key = ECKey.import_key(public) if header["alg"] == "ES256" else OKPKey.import_key(public)
    try:
        result = jws.deserialize_compact(token, key, algorithms=[header["alg"]], registry=registry())
    except Exception as error:  # joserfc's BadSignatureError and decoding errors
        raise Invalid("signature", "%s %s" % (type(error).__name__, error))
    try:
        payload = json.loads(result.payload)
    except ValueError as error:
        raise Invalid("payload", "not JSON: %s" % error)
    if not isinstance(payload, dict):
        raise Invalid("payload", "not a JSON object")
    for name in ("nbf", "exp"):
        if type(payload.get(name)) is not int:
            raise Invalid("payload", "%s is not an integer NumericDate" % name)
    now = int(at.timestamp())
    if now < payload["nbf"]:
        raise Invalid("not-yet-valid", "nbf %d is after %d" % (payload["nbf"], now))
    if now >= payload["exp"]:
        raise Invalid("expired", "exp %d is not after %d" % (payload["exp"], now))
    if schema_validator is not None:
        errors = sorted(schema_validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            raise Invalid("schema", "/%s: %s" % (where, errors[0].message))
    return payload


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ca", required=True, help="PEM file of the trusted CA certificate(s)")
    parser.add_argument("--at", type=int, help="verification time, unix seconds (default: now)")
    parser.add_argument("--schema", help="attestation JSON Schema to check payloads against")
    parser.add_argument("--jwks", help="heyan's JWK Set: take the key by kid from it")
    arguments = parser.parse_args()
    with open(arguments.ca, "rb") as f:
        ca_certificates = x509.load_pem_x509_certificates(f.read())
    if arguments.at is None:
        at = datetime.datetime.now(datetime.timezone.utc)
    else:
        at = datetime.datetime.fromtimestamp(arguments.at, datetime.timezone.utc)
    schema_validator = None
    if arguments.schema:
        from jsonschema import Draft202012Validator
        with open(arguments.schema, encoding="utf-8") as f:
            schema_validator = Draft202012Validator(json.load(f))
    key_set = None
    if arguments.jwks:
        with open(arguments.jwks, encoding="utf-8") as f:
            key_set = json.load(f)
    for line in sys.stdin:
        token = line.strip()
        if not token:
            continue
        try:
            output = {"ok": True, "payload": verify(token, ca_certificates, at, schema_validator, key_set)}
        except Invalid as error:
            output = {"ok": False, "error": str(error)}
        print(json.dumps(output, ensure_ascii=False, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
