#!/usr/bin/env python3
"""POSTs of a body over the server's limit from Python's http.client, which (like Java's and Go's
clients) sends the whole body without `Expect: 100-continue` before reading the answer.

    lingering_close.py --port P --cert C --key K --ca CA [--count 100] [--size 2097152] [--path /x]

Prints one JSON object: {"statuses": {"413": n, ...}, "errors": {"SSLEOFError": n, ...}}. Without
lingering close the server's early 413 races the client's unsent bytes, the kernel resets the
connection, and the client reads an error instead of the answer (docs/connections.md).
"""
import argparse
import collections
import http.client
import json
import ssl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", type=int, default=2 * 1024 * 1024)
    parser.add_argument("--path", default="/v1/verifications")
    arguments = parser.parse_args()

    context = ssl.create_default_context(cafile=arguments.ca)
    context.check_hostname = False
    context.load_cert_chain(arguments.cert, arguments.key)
    body = b"x" * arguments.size
    statuses, errors = collections.Counter(), collections.Counter()
    for _ in range(arguments.count):
        connection = http.client.HTTPSConnection(arguments.host, arguments.port, context=context, timeout=30)
        try:
            connection.request("POST", arguments.path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            statuses[str(response.status)] += 1
        except Exception as error:  # the measurement: which error the client saw instead of the answer
            errors[type(error).__name__] += 1
        finally:
            connection.close()
    print(json.dumps({"statuses": dict(statuses), "errors": dict(errors)}, sort_keys=True))


if __name__ == "__main__":
    main()
