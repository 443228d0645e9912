# A private ECR repository with a lifecycle policy and optional pull / push access, written for
# TfPilot's in-repo modules.

locals {
  read_write = length(var.repository_read_write_access_arns) > 0
  read       = length(var.repository_read_access_arns) > 0
  pull_actions = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
  ]
  push_actions = [
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
  ]
}

resource "aws_ecr_repository" "this" {
  name                 = var.repository_name
  image_tag_mutability = var.repository_image_tag_mutability
  # Without it AWS refuses to delete a repository holding images (TfPilot's destroy guard).
  force_delete = var.repository_force_delete

  encryption_configuration {
    encryption_type = var.repository_encryption_type
    kms_key         = var.repository_kms_key
  }

  image_scanning_configuration {
    scan_on_push = var.repository_image_scan_on_push
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  count = var.create_lifecycle_policy ? 1 : 0

  repository = aws_ecr_repository.this.name
  policy     = var.repository_lifecycle_policy
}

resource "aws_ecr_repository_policy" "this" {
  count = local.read || local.read_write ? 1 : 0

  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      local.read ? [{
        Sid       = "PrivateReadOnly"
        Effect    = "Allow"
        Principal = { AWS = var.repository_read_access_arns }
        Action    = local.pull_actions
      }] : [],
      local.read_write ? [{
        Sid       = "ReadWrite"
        Effect    = "Allow"
        Principal = { AWS = var.repository_read_write_access_arns }
        Action    = concat(local.pull_actions, local.push_actions)
      }] : [],
    )
  })
}
