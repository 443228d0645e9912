# tfpilot:begin req_golden0001
# Managed by TfPilot: ecr-repository in core/dev. Change it through TfPilot.
module "ecr_repository_req_golden0001" {
  source  = "terraform-aws-modules/ecr/aws"
  version = "2.4.0"

  repository_name                   = "core-dev-api"
  repository_type                   = "private"
  repository_image_tag_mutability   = "IMMUTABLE"
  repository_image_scan_on_push     = true
  repository_encryption_type        = "AES256"
  repository_force_delete           = false
  repository_read_access_arns       = ["arn:aws:iam::123456789012:role/ecs-task-execution"]
  repository_read_write_access_arns = ["arn:aws:iam::123456789012:role/github-actions"]
  create_lifecycle_policy           = true
  repository_lifecycle_policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 14
        }
        action = {
          type = "expire"
        }
      },
      {
        rulePriority = 2
        description  = "Keep only the most recent images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = 30
        }
        action = {
          type = "expire"
        }
      },
    ]
  })

  tags = {
    environment          = "dev"
    "managed-by"         = "tfpilot"
    project              = "core"
    requester            = "U024BE7LH"
    "tfpilot-request-id" = "req_golden0001"
  }
}

output "ecr_repository_req_golden0001_arn" {
  description = "ARN of the repository"
  value       = module.ecr_repository_req_golden0001.repository_arn
}

output "ecr_repository_req_golden0001_url" {
  description = "URL to push and pull images"
  value       = module.ecr_repository_req_golden0001.repository_url
}
# tfpilot:end req_golden0001
