# tfpilot:begin req_golden0001
# Managed by TfPilot: iam-role in core/dev. Change it through TfPilot.
module "iam_role_req_golden0001" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-assumable-role"
  version = "5.60.0"

  create_role             = true
  role_name               = "core-dev-api-task"
  role_description        = "Task role of the api service"
  role_path               = "/"
  max_session_duration    = 3600
  trusted_role_services   = ["ecs-tasks.amazonaws.com"]
  trusted_role_arns       = []
  role_requires_mfa       = false
  custom_role_policy_arns = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]

  tags = {
    environment          = "dev"
    "managed-by"         = "tfpilot"
    project              = "core"
    requester            = "U024BE7LH"
    "tfpilot-request-id" = "req_golden0001"
  }
}

output "iam_role_req_golden0001_arn" {
  description = "ARN of the role"
  value       = module.iam_role_req_golden0001.iam_role_arn
}

output "iam_role_req_golden0001_name" {
  description = "Name of the role"
  value       = module.iam_role_req_golden0001.iam_role_name
}
# tfpilot:end req_golden0001
