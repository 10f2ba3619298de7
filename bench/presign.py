#!/usr/bin/env python3
"""Pre-sign requests to the IAM route for bench/run.sh.

wrk's Lua cannot compute HMAC-SHA-256 at a useful speed, so the signing
is done before the run, with botocore (a signer labgate did not write).
Presigned queries are used rather than signed headers: a header
signature is only accepted within the clock-skew window (minutes), while
a presigned query stays valid for its X-Amz-Expires (an hour here), longer
than any benchmark run.  Each line of the output is PATH?QUERY for one
POST of BODY; the pool is reused round-robin, as CI jobs reuse their
credentials, so the server's signing-key cache is warm as it is in use.

usage: presign.py BASE_URL KEY SECRET COUNT > requests.txt
"""
import sys
import urllib.parse

import botocore.auth
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BODY = b'{"status":"pass","suite":"bench"}'


class BodyQueryAuth(SigV4QueryAuth):
    """Presign without botocore moving the JSON body into the query."""

    def _modify_request_before_signing(self, request):
        data = request.data
        original = botocore.auth._get_body_as_dict
        botocore.auth._get_body_as_dict = lambda r: {}
        try:
            super()._modify_request_before_signing(request)
        finally:
            botocore.auth._get_body_as_dict = original
        request.data = data


def main():
    base, key, secret, count = sys.argv[1], sys.argv[2], sys.argv[3], \
        int(sys.argv[4])
    creds = Credentials(key, secret)
    for i in range(count):
        req = AWSRequest(method="POST",
                         url="%s/lab/results-ci?n=%d" % (base, i),
                         data=BODY,
                         headers={"Content-Type": "application/json"})
        BodyQueryAuth(creds, "execute-api", "eu-north-1",
                      expires=3600).add_auth(req)
        parts = urllib.parse.urlsplit(req.prepare().url)
        print(parts.path + "?" + parts.query)


if __name__ == "__main__":
    main()
