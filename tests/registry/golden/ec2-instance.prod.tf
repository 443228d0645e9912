# tfpilot:begin req_golden0001
# Managed by TfPilot: ec2-instance in core/prod. Change it through TfPilot.
module "ec2_instance_req_golden0001" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "5.8.0"

  name                        = "core-prod-batch-runner"
  instance_type               = "t4g.small"
  ami_ssm_parameter           = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
  ignore_ami_changes          = true
  subnet_id                   = "subnet-0123456789abcdef0"
  vpc_security_group_ids      = ["sg-0123456789abcdef0"]
  associate_public_ip_address = false
  monitoring                  = false
  disable_api_termination     = true
  iam_instance_profile        = "batch-runner-profile"
  ebs_optimized               = true
  metadata_options = {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  root_block_device = [
    {
      encrypted   = true
      volume_type = "gp3"
      volume_size = 20
    },
  ]
  user_data                   = "#!/bin/bash\nset -eu\necho \"started at $(date) on $${HOSTNAME:-unknown}\" >> /var/log/boot.log\n"
  user_data_replace_on_change = false

  tags = {
    environment          = "prod"
    "managed-by"         = "tfpilot"
    project              = "core"
    requester            = "U024BE7LH"
    "tfpilot-request-id" = "req_golden0001"
  }
}

output "ec2_instance_req_golden0001_id" {
  description = "Instance id"
  value       = module.ec2_instance_req_golden0001.id
}

output "ec2_instance_req_golden0001_arn" {
  description = "ARN of the instance"
  value       = module.ec2_instance_req_golden0001.arn
}

output "ec2_instance_req_golden0001_private_ip" {
  description = "Private IP address"
  value       = module.ec2_instance_req_golden0001.private_ip
}
# tfpilot:end req_golden0001
