"""The local cloud's launcher describes resources back as AWS does where the AWS provider reads
them (each gap made a plan right after an apply show changes). Against the real launcher
process (``MotoServer``), through boto3: no Terraform needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.adapters.local_cloud import MotoServer


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(Path(tmp_path_factory.mktemp("launcher")))
    server.endpoint()
    yield server
    server.stop()


def client(cloud: MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.endpoint(),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="module")
def network(cloud: MotoServer) -> tuple[str, str]:
    ec2 = client(cloud, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="launcher", Description="launcher test", VpcId=vpc)["GroupId"]
    return subnet, group


def launch(cloud: MotoServer, subnet: str, group: str, *, public_ip: bool) -> dict[str, Any]:
    """An instance launched the way the AWS provider launches one with
    ``associate_public_ip_address`` set: the subnet, groups and choice on the primary interface."""
    ec2 = client(cloud, "ec2")
    launched = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group], "AssociatePublicIpAddress": public_ip}
        ],
    )["Instances"][0]
    assert ("Association" in launched["NetworkInterfaces"][0]) is public_ip  # RunInstances' answer too
    described: dict[str, Any] = ec2.describe_instances(InstanceIds=[launched["InstanceId"]])["Reservations"][0][
        "Instances"
    ][0]
    return described


def test_an_instance_without_a_public_ip_has_no_association(cloud: MotoServer, network: tuple[str, str]) -> None:
    subnet, group = network
    instance = launch(cloud, subnet, group, public_ip=False)
    (nic,) = instance["NetworkInterfaces"]
    # The provider reads associate_public_ip_address as "the primary interface has an
    # association": moto's empty one read as true and forced a replacement on every plan.
    assert "Association" not in nic and "PublicIpAddress" not in instance


def test_an_instance_with_a_public_ip_keeps_its_association(cloud: MotoServer, network: tuple[str, str]) -> None:
    subnet, group = network
    instance = launch(cloud, subnet, group, public_ip=True)
    (nic,) = instance["NetworkInterfaces"]
    assert nic["Association"]["PublicIp"] == instance["PublicIpAddress"]


def test_an_instance_has_its_interfaces_groups_and_enclave_options(cloud: MotoServer, network: tuple[str, str]) -> None:
    subnet, group = network
    instance = launch(cloud, subnet, group, public_ip=False)
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group]  # vpc_security_group_ids
    assert instance["EnclaveOptions"] == {"Enabled": False}


def test_an_sqs_redrive_policy_reads_back_as_set(cloud: MotoServer) -> None:
    sqs = client(cloud, "sqs")
    dlq = sqs.create_queue(QueueName="launcher-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}, separators=(",", ":"))
    queue = sqs.create_queue(QueueName="launcher-main", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["RedrivePolicy"] == policy  # compact, as AWS returns what was set
