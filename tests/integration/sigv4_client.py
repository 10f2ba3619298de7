#!/usr/bin/env python3
"""Sign one request with botocore's SigV4 signer and send it.

The integration tests (test_iam_route.c, test_sts.c) run this so that a
signer labgate did not write produces the signatures.  After signing, one
part of the request can be tampered with to prove the server notices.
Prints the status code on the first line and the body after it.
"""
import argparse
import datetime
import http.client
import sys
import urllib.parse

import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth  # noqa: E402
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class BodyQueryAuth(SigV4QueryAuth):
    """Presign without moving the body into the query.

    botocore's query signer turns a form body into query parameters (as
    the AWS Query protocol allows); a JSON body must stay the body and be
    covered by the payload hash, as the SigV4 test vectors do it.
    """

    def _modify_request_before_signing(self, request):
        data = request.data
        original = botocore.auth._get_body_as_dict
        botocore.auth._get_body_as_dict = lambda r: {}
        try:
            super()._modify_request_before_signing(request)
        finally:
            botocore.auth._get_body_as_dict = original
        request.data = data


def bump_seconds(stamp):
    """20261203T173546Z -> 20261203T173547Z (wrapping at 60)."""
    return stamp[:-3] + "%02d" % ((int(stamp[-3:-1]) + 1) % 60) + "Z"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--method", default="POST")
    p.add_argument("--body-file")
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--token")
    p.add_argument("--region", default="eu-north-1")
    p.add_argument("--service", default="execute-api")
    p.add_argument("--presign", action="store_true")
    p.add_argument("--expires", type=int, default=300)
    p.add_argument("--time-offset", type=int, default=0,
                   help="sign as if the clock were this many seconds off")
    p.add_argument("--header", action="append", default=[],
                   help="extra signed header Name:value")
    p.add_argument("--drop-token", action="store_true",
                   help="remove the session token after signing")
    p.add_argument("--tamper",
                   choices=["body", "header", "path", "query", "date"])
    a = p.parse_args()

    body = b""
    if a.body_file:
        with open(a.body_file, "rb") as f:
            body = f.read()
    if a.time_offset:
        real = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = (
            lambda: real() + datetime.timedelta(seconds=a.time_offset))

    headers = {"Content-Type": a.content_type}
    for h in a.header:
        name, _, value = h.partition(":")
        headers[name] = value
    url = a.url
    if a.tamper == "path":
        # Sign for a path one character longer than the one sent.
        u = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit(u._replace(path=u.path + "x"))
    req = AWSRequest(method=a.method, url=url, data=body, headers=headers)
    creds = Credentials(a.key, a.secret, a.token)
    if a.presign:
        BodyQueryAuth(creds, a.service, a.region,
                      expires=a.expires).add_auth(req)
    else:
        SigV4Auth(creds, a.service, a.region).add_auth(req)
    prepared = req.prepare()

    parts = urllib.parse.urlsplit(prepared.url)
    path = parts.path
    query = parts.query
    send_headers = dict(prepared.headers.items())
    if a.drop_token:
        send_headers.pop("X-Amz-Security-Token", None)
        query = "&".join(q for q in query.split("&")
                         if not q.startswith("X-Amz-Security-Token="))
    if a.tamper == "body":
        body = body.replace(b"pass", b"fail") if b"pass" in body else body + b" "
    elif a.tamper == "header":
        send_headers["X-Extra"] = send_headers.get("X-Extra", "") + "x"
    elif a.tamper == "path":
        path = path[:-1]
    elif a.tamper == "query":
        query = query + ("&" if query else "") + "added=1"
    elif a.tamper == "date":
        if "X-Amz-Date" in send_headers:
            send_headers["X-Amz-Date"] = bump_seconds(send_headers["X-Amz-Date"])
        else:
            qs = urllib.parse.parse_qsl(query, keep_blank_values=True)
            query = "&".join(
                "%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                           urllib.parse.quote(bump_seconds(v) if k == "X-Amz-Date"
                                              else v, safe="-_.~"))
                for k, v in qs)

    target = path + ("?" + query if query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest(a.method, target, skip_host=True,
                    skip_accept_encoding=True)
    conn.putheader("Host", parts.netloc)
    for k, v in send_headers.items():
        if k.lower() not in ("host", "content-length"):
            conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    sys.stdout.write("%d\n" % resp.status)
    sys.stdout.write(resp.read().decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
