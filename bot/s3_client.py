"""The S3 client the stores share: botocore's (the AWS SDK under boto3: the same client,
methods and settings), from a session that keeps only S3's rows of botocore's endpoint table.

The client is built with botocore itself rather than through ``boto3.client``: boto3 adds the
resource API and S3's transfer manager (s3transfer, multiprocessing), none of which a store
calls (they call ``put_object``, ``get_object``, ``delete_object``, ``list_objects_v2``), for
about 2.5 MB and a quarter of a second at start.

botocore resolves a client's endpoint partly through its table of every service in every
partition (``botocore/data/endpoints.json``: 1.2 MB of JSON, about 7 MB once parsed into
OrderedDicts) and keeps that table for the life of the process. A process whose only AWS client
is S3 reads S3's rows: the session's loader here keeps those (and every partition's own
fields) and drops the other services' as the file is read, so the full table is never kept;
it also reads botocore's data files into plain dicts rather than OrderedDicts (``load_json``).
Everything else is botocore's own: the S3 model and endpoint rules, credentials, region,
``AWS_ENDPOINT_URL_S3`` and the other settings, ``AWS_DATA_PATH``.
"""

from __future__ import annotations

import gzip
import json
import os
from typing import Any

SERVICE = "s3"


def s3_only(endpoints: Any) -> Any:
    """``endpoints.json``'s document with S3's rows alone under each partition's services."""
    if not isinstance(endpoints, dict) or not isinstance(endpoints.get("partitions"), list):
        return endpoints  # not the shape expected: keep it whole rather than guess
    partitions = []
    for partition in endpoints["partitions"]:
        services = partition.get("services") if isinstance(partition, dict) else None
        if not isinstance(services, dict):
            partitions.append(partition)
            continue
        kept = type(partition)(partition)
        kept["services"] = type(services)((k, v) for k, v in services.items() if k == SERVICE)
        partitions.append(kept)
    trimmed = type(endpoints)(endpoints)
    trimmed["partitions"] = partitions
    return trimmed


def load_json(file_path: str) -> Any:
    """botocore's data file ``file_path`` (``.json``, else ``.json.gz``, as its loader tries
    them), or None. Into plain dicts, which keep their order as botocore's OrderedDicts do, in
    a third less memory (S3's model and endpoint rules: 3.3 MB instead of 4.7)."""
    for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
        full_path = file_path + suffix
        if os.path.isfile(full_path):
            with opener(full_path, "rb") as stream:
                data = json.loads(stream.read().decode("utf-8"))
            return s3_only(data) if os.path.basename(file_path) == "endpoints" else data
    return None


def s3_session() -> Any:
    """A botocore session for S3 clients: its data loader keeps only S3's rows of the endpoint
    table and knows only S3's models (another service's client is refused as unknown)."""
    import botocore.session
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import JSONFileLoader, Loader

    class S3DataFiles(JSONFileLoader):
        def load_file(self, file_path: str) -> Any:
            return load_json(file_path)

    class S3Loader(Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            # botocore lists every service's directory (about 400, tens of milliseconds) to check
            # that the one asked for exists; this session's clients are S3's.
            try:
                self.list_api_versions(SERVICE, type_name)
            except DataNotFoundError:
                return []
            return [SERVICE]

    session = botocore.session.get_session()
    data_path = session.get_config_variable("data_path")  # AWS_DATA_PATH, as botocore's own loader reads it
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)] if data_path else None
    session.register_component("data_loader", S3Loader(extra_search_paths=extra, file_loader=S3DataFiles()))
    return session


def s3_client(region: str | None) -> Any:
    """An S3 client (thread-safe; one per process is enough), as ``boto3.client("s3")`` would
    build it, without boto3's additions and the other services' endpoint rows."""
    return s3_session().create_client(SERVICE, region_name=region)
