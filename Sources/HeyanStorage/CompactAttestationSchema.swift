/// Migration 3: attestations are stored without repeating their JWS protected header.
///
/// Every attestation signed with one signing key carries the same protected header
/// (`alg`, `typ`, `kid` and the `x5c` certificate chain: about 1.8 KB of the ~2.7 KB JWS). Stored
/// whole, one attestation filled a 4 KiB page by itself and was ~70 % of the database. From this
/// migration on a new row keeps only the payload and signature segments in `jws` and points with
/// `jws_header` to the header, stored once in `jws_headers`; reading joins them back into the
/// identical compact JWS. Rows written before (with `jws_header` NULL) keep the whole JWS.
let compactAttestationSchema = """
    CREATE TABLE jws_headers (
        id     INTEGER PRIMARY KEY,
        header TEXT NOT NULL UNIQUE
    ) STRICT;
    ALTER TABLE attestations ADD COLUMN jws_header INTEGER REFERENCES jws_headers (id);
    """
