import uuid

import reports


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_publish_and_fetch(cognite_client):
    xid = unique("daily")
    reports.publish(cognite_client, xid, "daily", b"all good\n")
    assert reports.fetch(cognite_client, xid) == b"all good\n"


def test_replace_keeps_one_file(cognite_client):
    xid = unique("weekly")
    reports.publish(cognite_client, xid, "weekly", b"v1")
    reports.publish(cognite_client, xid, "weekly", b"v2")
    assert reports.fetch(cognite_client, xid) == b"v2"
    assert cognite_client.files.retrieve(external_id=xid).metadata == {"kind": "weekly"}


def test_list_by_kind(cognite_client):
    kind = unique("kind")
    ids = [unique("r") for _ in range(3)]
    for xid in ids:
        reports.publish(cognite_client, xid, kind, xid.encode())
    reports.publish(cognite_client, unique("other"), unique("kind"), b"x")
    assert reports.list_kind(cognite_client, kind) == sorted(ids)


def test_retire(cognite_client):
    xid = unique("old")
    reports.publish(cognite_client, xid, "old", b"bye")
    reports.retire(cognite_client, xid)
    assert cognite_client.files.retrieve(external_id=xid) is None
