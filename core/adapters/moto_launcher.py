"""The local cloud's server process: moto's AWS API on a loopback port, with emulator gaps patched.

Run as ``python -m core.adapters.moto_launcher --host 127.0.0.1 --port 0``: it binds (port 0
picks a free one), prints ``port <n>`` on its first line of stdout, then serves until stopped
or until the process that started it goes away (an orphaned emulator would hold its port and
state forever). ``LocalCloud`` starts it; tests start one per session the same way.

The patches are gaps between moto and AWS that the AWS provider trips over:

- **SQS** ``GetQueueAttributes`` rejects the ``RedriveAllowPolicy`` attribute name and
  ``SetQueueAttributes`` forgets it; the provider reads it for every queue (and
  ``aws_sqs_queue_redrive_allow_policy`` writes it). The attribute becomes a stored one.
- **SQS** returns ``RedrivePolicy`` re-serialised with spaces where AWS returns it as set
  (compact): a plan right after an apply showed the queue's ``redrive_policy`` changing. It is
  returned compact.
- **RDS** gives every DB instance the same ``DbiResourceId``; the provider keys instances by
  it, so the second instance looked like the first. Each instance gets its own.
- **EC2** ``DescribeInstances`` (and ``RunInstances``) gives every network interface an
  ``Association`` element, empty when the interface has no public IP; AWS leaves it out. The
  provider reads ``associate_public_ip_address`` as "the primary interface has an association",
  so an instance launched with ``associate_public_ip_address = false`` read back ``true`` and
  every plan after the apply replaced it. The empty element is left out, as moto already does
  for ``DescribeNetworkInterfaces``.

AWS-managed IAM policies are loaded (``MOTO_IAM_LOAD_MANAGED_POLICIES``), as every account has them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import threading
import time
from typing import Any


def patch_sqs() -> None:
    from moto.sqs import models as sqs

    if "RedriveAllowPolicy" in sqs.Queue.BASE_ATTRIBUTES:
        return
    sqs.Queue.BASE_ATTRIBUTES.append("RedriveAllowPolicy")
    # Read by ``attributes`` through getattr before any SetQueueAttributes stored one.
    sqs.Queue.redrive_allow_policy = None  # type: ignore[attr-defined]

    original = sqs.Queue.attributes.fget  # type: ignore[attr-defined]
    assert original is not None

    def attributes(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original(self)
        # AWS returns the policy as it was set (compact JSON from the provider); moto re-dumps
        # it with spaces, and every plan after an apply showed the queue's redrive_policy as
        # changed (JSON formatting only).
        if isinstance(self.redrive_policy, dict) and "RedrivePolicy" in result:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        # A cleared allow policy ("" after the provider deletes it) is absent, as on AWS: the
        # provider's delete waits until it is.
        if not result.get("RedriveAllowPolicy"):
            result.pop("RedriveAllowPolicy", None)
        return result

    sqs.Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]


def patch_rds() -> None:
    from moto.rds import models as rds

    original = rds.DBInstance.__init__
    if getattr(original, "_tfpilot_patched", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        self.dbi_resource_id = "db-" + "".join(secrets.choice(alphabet) for _ in range(26))

    init._tfpilot_patched = True  # type: ignore[attr-defined]
    rds.DBInstance.__init__ = init  # type: ignore[method-assign]


# The suffix of the response key path of an instance's network interface association
# (moto matches transformer paths by suffix).
EC2_INSTANCE_NIC_ASSOCIATION = "Instance.NetworkInterfaces.InstanceNetworkInterface.Association"


def patch_ec2() -> None:
    from moto.core.serialize import return_if_not_empty
    from moto.ec2.models import instances
    from moto.ec2.responses._base_response import EC2BaseResponse

    EC2BaseResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER.setdefault(EC2_INSTANCE_NIC_ASSOCIATION, return_if_not_empty)

    original = instances.Instance.__init__
    if getattr(original, "_tfpilot_patched", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        primary = self.nics.get(0)
        if not self.security_groups and primary is not None:
            # On AWS an instance's security groups are its primary interface's.
            self.security_groups = list(primary._group_set)

    init._tfpilot_patched = True  # type: ignore[attr-defined]
    instances.Instance.__init__ = init  # type: ignore[method-assign]
    # AWS describes every instance's enclave options (disabled unless asked for).
    instances.Instance.enclave_options = {"Enabled": False}  # type: ignore[attr-defined]


def apply_patches() -> None:
    patch_sqs()
    patch_rds()
    patch_ec2()


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.adapters.moto_launcher")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    # AWS-managed IAM policies (arn:aws:iam::aws:policy/...) exist in every account; moto loads
    # them only when asked, and a role attaching one would otherwise fail with NoSuchEntity.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    apply_patches()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    sys.stdout.write(f"port {server.port}\n")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
