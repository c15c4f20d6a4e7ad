"""Checks the document's request examples against the schemas and the real parsers.

Every request body example must be valid by its own schema (JSON Schema 2020-12, as OpenAPI 3.1 says),
and the server must accept it: sent in document order to a fresh open-mode server (so a file is created
before it is retrieved), no example may be answered with a 400 (the parser disagrees with the document)
or any other error. Usage: examples.py BASE_URL
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
import uuid

import jsonschema_rs

# With access control on (run.sh's FUZZ_ACCESS), the configured project and its token.
PROJECT = os.environ.get("FUZZ_PROJECT") or f"examples-{uuid.uuid4().hex[:12]}"
TOKEN = os.environ.get("FUZZ_TOKEN", "fuzz")
# Query parameters the operations need besides the body.
QUERY = {"initMultipartUpload": "?parts=1", "createMultipartUploadLink": "?parts=1"}
# Examples name the objects other examples create: creates go first, deletes last.
CREATES = {
    "createFile",
    "initMultipartUpload",
    "createGroups",
    "createSecurityCategories",
    "createDataSets",
    "createLabels",
    "createAssets",
}
# Deletes by number take the id their create returned.
DELETE_CREATED = {"deleteGroups": "createGroups", "deleteSecurityCategories": "createSecurityCategories"}


def rank(op_id: str) -> int:
    return 0 if op_id in CREATES else 2 if op_id.startswith("delete") else 1


def send(method: str, url: str, body: object) -> tuple[int, str]:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main() -> int:
    base = sys.argv[1].rstrip("/")
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=10) as resp:
        doc = json.load(resp)
    assert doc["openapi"].startswith("3.1"), doc["openapi"]
    failures = []
    checked = 0
    created: dict[str, object] = {}
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    ops.sort(key=lambda o: rank(o[2]["operationId"]))
    for path, method, op in ops:
        if True:
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            example = content.get("example")
            if example is None:
                failures.append(f"{op['operationId']}: no request example")
                continue
            # The schema's `$ref`s point into the document's components, so they travel with it.
            schema = {"$ref": content["schema"]["$ref"], "components": doc["components"]}
            validator = jsonschema_rs.Draft202012Validator(schema)
            errors = [e.message for e in validator.iter_errors(example)]
            if errors:
                failures.append(f"{op['operationId']}: example invalid by its schema: {errors}")
                continue
            url = base + path.replace("{project}", PROJECT) + QUERY.get(op["operationId"], "")
            if op["operationId"] == "completeMultipartUpload":
                # The body names a session that was never opened: refused for its state, not its shape.
                status, text = send(method.upper(), url, example)
                if not (400 <= status < 500 and "uploadId" in text):
                    failures.append(f"{op['operationId']}: {status} {text}")
                checked += 1
                continue
            if op["operationId"] in DELETE_CREATED:
                example = {"items": [created[DELETE_CREATED[op["operationId"]]]]}
            status, text = send(method.upper(), url, example)
            checked += 1
            if 200 <= status < 300 and op["operationId"] in DELETE_CREATED.values():
                created[op["operationId"]] = json.loads(text)["items"][0]["id"]
            if op["operationId"] == "createFile" and status == 201:
                # Content, so that the downloadlink example has something to link to.
                put = urllib.request.Request(json.loads(text)["uploadUrl"], data=b"example", method="PUT")
                with urllib.request.urlopen(put, timeout=10) as resp:
                    assert resp.status == 200, resp.status
            if not 200 <= status < 300:
                failures.append(f"{op['operationId']} ({method.upper()} {path}): {status} {text}")
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    print(f"examples: {checked} sent, {len(failures)} failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
