# The inputs TfPilot's ecr-repository definition renders (the same names and shapes as
# terraform-aws-modules/ecr/aws 2.4.0 takes for them).

variable "repository_name" {
  description = "Name of the repository"
  type        = string
}

variable "repository_type" {
  description = "private (public repositories are not offered)"
  type        = string
  default     = "private"

  validation {
    condition     = var.repository_type == "private"
    error_message = "Only private repositories are supported."
  }
}

variable "repository_image_tag_mutability" {
  description = "MUTABLE or IMMUTABLE image tags"
  type        = string
  default     = "IMMUTABLE"
}

variable "repository_image_scan_on_push" {
  description = "Scan images for vulnerabilities when pushed"
  type        = bool
  default     = true
}

variable "repository_encryption_type" {
  description = "AES256 or KMS"
  type        = string
  default     = "AES256"
}

variable "repository_kms_key" {
  description = "KMS key ARN for KMS encryption (the AWS-managed key when unset)"
  type        = string
  default     = null
}

variable "repository_force_delete" {
  description = "Delete the repository even while it holds images"
  type        = bool
  default     = false
}

variable "repository_read_access_arns" {
  description = "Principals allowed to pull"
  type        = list(string)
  default     = []
}

variable "repository_read_write_access_arns" {
  description = "Principals allowed to pull and push"
  type        = list(string)
  default     = []
}

variable "create_lifecycle_policy" {
  description = "Attach the lifecycle policy"
  type        = bool
  default     = true
}

variable "repository_lifecycle_policy" {
  description = "Lifecycle policy JSON"
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags of the repository"
  type        = map(string)
  default     = {}
}
