"""An S3-compatible server on 127.0.0.1 (moto's server mode), with real IAM credentials.

moto checks request signatures once its "no-auth" allowance is used up, so a
test can tell right credentials from wrong ones. The bucket and the IAM user
are created while auth is still off; then auth is switched on for everything.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.request import Request, urlopen

import boto3
from moto.server import ThreadedMotoServer

# Must match .dvc/config's remote "storage".
BUCKET = "apparel-classifier-dvc"
REGION = "eu-central-1"
_S3_FULL_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@dataclass(frozen=True)
class S3Server:
    """Where the server listens and the credentials of its one user."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        """The environment variables a user exports to reach the remote."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }


def _moto_api(endpoint_url: str, action: str, body: str = "") -> None:
    # text/plain: urllib's default form encoding would hide the body from moto.
    request = Request(
        f"{endpoint_url}/moto-api/{action}",
        data=body.encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urlopen(request, timeout=10) as resp:
        json.loads(resp.read())


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start moto on a free port, create the bucket and a user, enforce auth; stop on exit."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        setup = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup",
        }
        boto3.client("s3", **setup).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        iam = boto3.client("iam", **setup)
        iam.create_user(UserName="dvc")
        iam.put_user_policy(
            UserName="dvc", PolicyName="s3", PolicyDocument=json.dumps(_S3_FULL_ACCESS)
        )
        key = iam.create_access_key(UserName="dvc")["AccessKey"]
        _moto_api(endpoint, "reset-auth", "0")  # from now on every request must be signed
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        # moto keeps its settings and its buckets process-wide: leave none behind.
        _moto_api(endpoint, "reset-auth", "inf")
        _moto_api(endpoint, "reset")
        server.stop()
